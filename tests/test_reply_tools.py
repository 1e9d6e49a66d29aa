"""The reply form's tools without JavaScript: article passages, quote-reply, preview.

The page's script only shortcuts these (static/forum/site.js); every one must
also work as plain links and buttons, and a preview must be sanitised exactly
like a posted reply, since it shows the author's own untrusted markdown.
"""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from forum import markup, services
from forum.markup import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, article_blocks
from forum.models import BODY_MAX_LENGTH, Post, PostStatus, Topic

from .browser_form import form_values
from .factories import HUMAN_DISCLOSURE, make_post, make_topic, make_user, stance
from .pages import (
    as_typed,
    messages_shown,
    page,
    reply_data,
    reply_url,
    signed_in,
    squash,
    summary_errors,
)

# Markup a reader might paste into a reply, each meant to run or load something.
ATTACKS = [
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param("[click](javascript:alert(1))", id="javascript-link"),
    pytest.param("<img src=x onerror=alert(1)>", id="raw-img"),
    pytest.param("![pixel](https://tracker.example/p.png)", id="markdown-image"),
    pytest.param('<a href="https://evil.example">raw link</a>', id="raw-html"),
    pytest.param("[x](data:text/html;base64,PHNjcmlwdD4=)", id="data-url"),
    pytest.param('*ok* <div onclick="alert(1)">hi</div>', id="event-handler"),
]


# Helpers -------------------------------------------------------------------


def reply_form(response) -> dict[str, list[str]]:
    """Every value the page's reply form would send, blanks included (no token)."""
    match = re.search(r'<form[^>]*class="reply-form".*?</form>', page(response), re.S)
    assert match, "no reply form on the page"
    values = form_values(match.group(0))
    values.pop("csrfmiddlewaretoken", None)
    return values


def typed(response) -> dict[str, list[str]]:
    """The reply form's values as test_limits compares them: blanks dropped."""
    return {k: v for k, v in reply_form(response).items() if v != [""]}


def preview_region(response) -> str:
    """The reply page's #reply-preview section, or "" when there is none."""
    match = re.search(
        r'<section class="preview" id="reply-preview".*?</section>',
        page(response),
        re.S,
    )
    return match.group(0) if match else ""


def preview_html(html: str) -> str:
    """The rendered body inside a preview fragment."""
    match = re.search(r'<div class="preview-body body">(.*)</div>', html, re.S)
    assert match, "no preview body"
    return match.group(1)


def assert_sanitised(html: str) -> None:
    """Only the allowlisted tags and attributes, and no link off the http(s)/mailto schemes."""
    for name, attrs in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>", html):
        assert name.lower() in ALLOWED_TAGS, name
        names = set(re.findall(r"([a-zA-Z-]+)=", attrs))
        assert names <= ALLOWED_ATTRIBUTES.get(name.lower(), set()) | {"rel"}, attrs
        for href in re.findall(r'href="([^"]*)"', attrs):
            assert href.startswith(("http://", "https://", "mailto:")), href


def passages(response) -> dict[int, str]:
    """Each article passage on a thread page: number -> its <div>."""
    found = re.findall(
        r'(<div class="passage" id="passage-(\d+)">.*?</div>)', page(response), re.S
    )
    return {int(number): html for html, number in found}


def answers_line(response) -> str:
    match = re.search(r'<p class="answers">.*?</p>', page(response), re.S)
    return match.group(0) if match else ""


def hide(post) -> None:
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Spam.",
    )


def set_rate(settings, name: str, text: str) -> None:
    settings.STANDPOINT_RATE_LIMITS = {**settings.STANDPOINT_RATE_LIMITS, name: text}


def preview_url(topic) -> str:
    return f"/t/{topic.slug}/reply/preview/"


def posting_as(user):
    """A CSRF-checked client signed in as `user`, holding the token a page gave it."""
    client = signed_in(user)
    client.get("/")  # the sign-out form sets the CSRF cookie
    assert "csrftoken" in client.cookies
    return client


@pytest.fixture
def poster(user):
    return posting_as(user)


@pytest.fixture
def essay(db):
    """A topic whose article mixes paragraphs with blocks that are not passages."""
    return make_topic(
        body=(
            "# A heading\n\n"
            "First paragraph, with **bold**.\n\n"
            "- a list item\n- another\n\n"
            "> A quotation in the article.\n\n"
            "```\ncode block\n```\n\n"
            "---\n\n"
            "Second paragraph\nspread over two lines."
        )
    )


# Article passages ----------------------------------------------------------


def test_thread_shows_each_article_paragraph_as_a_passage_with_a_quote_link(
    client, topic
):
    response = client.get(f"/t/{topic.slug}/")

    shown = passages(response)
    assert sorted(shown) == [1, 2]
    assert "<p>The article.</p>" in shown[1]
    assert "<p>Its second paragraph.</p>" in shown[2]
    for number in (1, 2):
        assert f'href="/t/{topic.slug}/reply/?passage={number}"' in shown[number]
        assert f"Quote paragraph {number} in a reply" in squash(shown[number])


def test_headings_lists_and_quotes_of_the_article_are_not_passages(client, essay):
    response = client.get(f"/t/{essay.slug}/")

    shown = passages(response)
    assert sorted(shown) == [1, 2]
    assert "First paragraph, with <strong>bold</strong>." in shown[1]
    assert "Second paragraph\nspread over two lines." in shown[2]
    assertContains(response, "<h1>A heading</h1>")
    assertContains(response, "<li>a list item</li>")
    assert all("list item" not in html for html in shown.values())


def test_locked_topic_shows_passages_without_quote_links(client, db):
    topic = make_topic(is_locked=True)

    response = client.get(f"/t/{topic.slug}/")

    assert sorted(passages(response)) == [1, 2]
    assertNotContains(response, "?passage=")
    assertNotContains(response, 'class="quote-link"')


def test_article_blocks_number_paragraphs_only():
    blocks = article_blocks(
        "# Title\n\nOne.\n\n- item\n\n> quoted\n\n```\ncode\n```\n\n---\n\nTwo\nlines."
    )

    assert [(b.number, b.source.strip()) for b in blocks] == [
        (None, "# Title"),
        (1, "One."),
        (None, "- item"),
        (None, "> quoted"),
        (None, "```\ncode\n```"),
        (None, "---"),
        (2, "Two\nlines."),
    ]
    assert blocks[1].html == "<p>One.</p>\n"


def test_article_paragraphs_are_sanitised_like_replies():
    (block,) = article_blocks("Hi <script>alert(1)</script> [x](javascript:alert(1))")

    assert block.number == 1
    assert "<script" not in block.html
    assert_sanitised(block.html)


def test_passage_opening_keeps_twelve_words_and_marks_the_cut():
    words = [f"w{n}" for n in range(1, 16)]
    (long,) = article_blocks(" ".join(words[:8]) + "\n" + " ".join(words[8:]))
    (short,) = article_blocks("Just   a\nshort  one.")

    assert long.opening == " ".join(words[:12]) + "…"
    assert short.opening == "Just a short one."
    (exact,) = article_blocks(" ".join(words[:12]))
    assert exact.opening == " ".join(words[:12])


@pytest.mark.parametrize("number", [0, 3, -1])
def test_topic_has_no_passage_outside_its_paragraphs(topic, number):
    assert topic.passage(number) is None
    assert topic.passage(2).source == "Its second paragraph."


# Quote-reply without JavaScript -------------------------------------------


def test_quote_link_fills_the_reply_with_an_excerpt_and_a_link_back(poster, topic):
    quoted = make_post(
        topic=topic,
        author=make_user(username="ada"),
        body="Models help *defenders*.\n\nA lot.",
    )

    response = poster.get(f"{reply_url(topic)}?quote={quoted.pk}")

    assert response.status_code == 200
    form = reply_form(response)
    assert form["body"] == [
        f"> Models help *defenders*. A lot.\n>\n> — [#{quoted.pk} by ada](/p/{quoted.pk}/)\n\n"
    ]
    assert form["parent"] == [str(quoted.pk)]
    assert form["passage"] == [""]
    assert f"You are replying to #{quoted.pk} by ada" in squash(page(response))


def test_quoted_markup_stays_text_in_the_form(poster, topic):
    quoted = make_post(topic=topic, body="</textarea><script>alert(1)</script>")

    response = poster.get(f"{reply_url(topic)}?quote={quoted.pk}")

    assertNotContains(response, "<script>alert(1)")
    assert reply_form(response)["body"][0].startswith(
        "> </textarea><script>alert(1)</script>\n"
    )


@pytest.mark.parametrize(
    "which", ["hidden", "of another topic", "missing", "garbage", "negative", "huge"]
)
def test_quote_of_a_post_it_cannot_answer_quotes_nothing(
    poster, topic, other_topic, which
):
    target = make_post(topic=other_topic if which == "of another topic" else topic)
    if which == "hidden":
        hide(target)
    quote = {
        "missing": str(target.pk + 1000),
        "garbage": "1;DROP TABLE",
        "negative": "-1",
        "huge": str(2**64),
    }.get(which, str(target.pk))

    response = poster.get(f"{reply_url(topic)}?quote={quote}")

    assert response.status_code == 200
    form = reply_form(response)
    assert form["body"] == [""]
    assert form["parent"] == [""]
    assertNotContains(response, "You are replying to")


def test_quote_of_a_long_post_keeps_eighty_words(poster, topic):
    words = [f"word{n}" for n in range(1, 121)]
    quoted = make_post(topic=topic, body=" ".join(words))

    response = poster.get(f"{reply_url(topic)}?quote={quoted.pk}")

    quote = reply_form(response)["body"][0]
    assert quote.startswith(f"> {' '.join(words[:80])} …\n>\n> — [#{quoted.pk} by ")
    assert "word81" not in quote


def test_quote_markdown_keeps_short_text_whole():
    assert markup.quote_markdown("Two\n\nlines.", source="S", url="/u/") == (
        "> Two lines.\n>\n> — [S](/u/)\n\n"
    )


def test_passage_link_quotes_that_paragraph_and_answers_it(poster, topic):
    response = poster.get(f"{reply_url(topic)}?passage=2")

    assert response.status_code == 200
    form = reply_form(response)
    assert form["body"] == [
        "> Its second paragraph.\n>\n"
        f"> — [the article, paragraph 2](/t/{topic.slug}/#passage-2)\n\n"
    ]
    assert form["passage"] == ["2"]
    assert form["parent"] == [""]
    assertContains(
        response,
        f'Answering <a href="/t/{topic.slug}/#passage-2">paragraph 2 of the article</a>.',
    )


@pytest.mark.parametrize("passage", ["0", "3", "-1", "abc", "1.5", "2%20", "999999"])
def test_passage_link_outside_the_article_is_ignored(poster, topic, passage):
    response = poster.get(f"{reply_url(topic)}?passage={passage}")

    assert response.status_code == 200
    form = reply_form(response)
    assert form["body"] == [""]
    assert form["passage"] == [""]
    assertNotContains(response, "Answering")


def test_quote_of_a_post_wins_over_a_passage_in_the_same_link(poster, topic):
    quoted = make_post(topic=topic, body="A reply.")

    response = poster.get(f"{reply_url(topic)}?quote={quoted.pk}&passage=1")

    form = reply_form(response)
    assert form["body"][0].startswith("> A reply.\n")
    assert (form["parent"], form["passage"]) == ([str(quoted.pk)], [""])


# Posting a reply that answers a passage -----------------------------------


def test_reply_answering_a_passage_is_stored_and_the_thread_names_it(
    poster, client, topic
):
    response = poster.post(reply_url(topic), reply_data(passage="2"))

    post = Post.objects.get()
    assertRedirects(response, f"/p/{post.pk}/", fetch_redirect_response=False)
    assert post.passage == 2
    line = answers_line(client.get(f"/t/{topic.slug}/"))
    assert squash(line) == "Answers paragraph 2 of the article: “Its second paragraph.”"
    assert f'href="/t/{topic.slug}/#passage-2"' in line


def test_answered_passage_is_named_by_its_opening_words(client, db):
    topic = make_topic(body="Short one.\n\n" + " ".join(f"w{n}" for n in range(20)))
    make_post(topic=topic, passage=2)

    line = squash(answers_line(client.get(f"/t/{topic.slug}/")))

    assert line == (
        "Answers paragraph 2 of the article: “"
        + " ".join(f"w{n}" for n in range(12))
        + "…”"
    )


def test_reply_without_a_passage_names_none(client, topic):
    make_post(topic=topic)

    assert answers_line(client.get(f"/t/{topic.slug}/")) == ""


def test_reply_to_a_paragraph_the_article_lacks_is_refused_and_text_kept(poster, topic):
    data = reply_data(body="My point on paragraph three.", passage="3")

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert "The article has no paragraph 3 to answer." in summary_errors(response)
    assert typed(response) == as_typed(data)
    assert not Post.objects.exists()


def test_post_create_refuses_a_passage_the_article_lacks(topic, user):
    with pytest.raises(ValidationError) as caught:
        make_post(topic=topic, author=user, passage=3)

    errors = caught.value.error_dict["passage"]
    assert [e.code for e in errors] == ["passage_missing"]
    assert errors[0].params == {"number": 3}
    assert not Post.objects.exists()


# Preview without JavaScript ------------------------------------------------


def test_preview_button_shows_the_rendered_reply_and_stores_nothing(poster, topic):
    data = reply_data(body="Defenders need **these** models.", preview="1")

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    region = preview_region(response)
    assert " hidden" not in region.split(">")[0]
    assert (
        preview_html(region) == "<p>Defenders need <strong>these</strong> models.</p>\n"
    )
    assert summary_errors(response) == ""
    assert messages_shown(response) == []
    assert not Post.objects.exists()


def test_preview_brings_every_field_back_as_typed(poster, topic):
    data = reply_data(
        body="Typed *carefully*.", tags="open source, exploits", paid="expected"
    )

    response = poster.post(reply_url(topic), {**data, "preview": "1"})

    values = typed(response)
    assert values == as_typed(data)
    assert values["stances"] == [
        "supports-ban-endangers-defenders",
        "opposes-ban-is-justified",
    ]
    assert values["authorship"] == ["ai_assisted"]


def test_preview_of_an_unfinished_reply_shows_no_errors(poster, topic):
    data = {"body": "Only the body so far.", "preview": "1"}

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert summary_errors(response) == ""
    assertNotContains(response, 'class="errorlist"')
    assert typed(response) == {"body": ["Only the body so far."]}
    assert "<p>Only the body so far.</p>" in preview_region(response)


def test_preview_keeps_the_post_and_passage_a_reply_answers(poster, topic):
    parent = make_post(topic=topic, author=make_user(username="ada"))
    data = reply_data(parent=str(parent.pk), passage="2", preview="1")

    response = poster.post(reply_url(topic), data)

    form = reply_form(response)
    assert (form["parent"], form["passage"]) == ([str(parent.pk)], ["2"])
    assert f"You are replying to #{parent.pk} by ada" in squash(page(response))


@pytest.mark.parametrize("attack", ATTACKS)
def test_preview_button_sanitises_like_a_posted_reply(poster, topic, attack):
    response = poster.post(reply_url(topic), {"body": attack, "preview": "1"})

    rendered = preview_html(preview_region(response))
    assert rendered
    assert_sanitised(rendered)


def test_preview_of_an_empty_reply_keeps_the_preview_hidden(poster, topic):
    response = poster.post(reply_url(topic), {"body": "", "preview": "1"})

    assert response.status_code == 200
    region = preview_region(response)
    assert " hidden>" in region.split("\n")[0]
    assert "preview-body" not in region
    assert summary_errors(response) == ""


def test_preview_by_a_suspended_author_is_refused_with_the_notice(
    poster, user, moderator, topic
):
    """Documents the current behaviour: 403, the suspension notice, nothing stored."""
    services.user_suspend(
        user=user,
        until=timezone.now() + timedelta(days=3),
        reason="Spam.",
        actor=moderator,
    )

    response = poster.post(reply_url(topic), reply_data(preview="1"))

    assert response.status_code == 403
    assertContains(response, "Your account is suspended", status_code=403)
    assert not Post.objects.exists()


@pytest.mark.parametrize("refusal", ["suspended", "locked"])
def test_refused_preview_keeps_the_text_typed(poster, user, moderator, topic, refusal):
    if refusal == "suspended":
        services.user_suspend(
            user=user,
            until=timezone.now() + timedelta(days=3),
            reason="Spam.",
            actor=moderator,
        )
    else:
        Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    data = reply_data(body="Keep me, typed *carefully*.")

    response = poster.post(reply_url(topic), {**data, "preview": "1"})

    assert response.status_code == 403
    assert typed(response) == as_typed(data)


# The preview endpoint (the Preview button's fetch) -------------------------


def test_preview_endpoint_sends_anonymous_readers_to_sign_in(topic):
    response = Client().post(preview_url(topic), {"body": "Hi"})

    assertRedirects(
        response,
        f"/accounts/login/?next={preview_url(topic)}",
        fetch_redirect_response=False,
    )


def test_preview_endpoint_refuses_a_post_without_the_csrf_token(user, topic):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(preview_url(topic), {"body": "Hi"}).status_code == 403


def test_preview_endpoint_still_serves_a_suspended_author(
    poster, user, moderator, topic
):
    """Documents the current behaviour: a preview stores nothing, so no suspension check."""
    services.user_suspend(
        user=user,
        until=timezone.now() + timedelta(days=3),
        reason="Spam.",
        actor=moderator,
    )

    response = poster.post(preview_url(topic), {"body": "**Hi**"})

    assert response.status_code == 200
    assert preview_html(page(response)) == "<p><strong>Hi</strong></p>\n"


def test_preview_endpoint_answers_only_post(poster, topic):
    assert poster.get(preview_url(topic)).status_code == 405


def test_preview_endpoint_of_an_unknown_topic_is_404(poster, db):
    assert (
        poster.post("/t/no-such-topic/reply/preview/", {"body": "Hi"}).status_code
        == 404
    )


def test_preview_endpoint_returns_the_rendered_fragment(poster, topic):
    response = poster.post(preview_url(topic), {"body": "Some **bold**, *em*."})

    assert response.status_code == 200
    assert page(response).strip() == (
        '<div class="preview-body body"><p>Some <strong>bold</strong>, '
        "<em>em</em>.</p>\n</div>"
    )
    assertNotContains(response, "<html")


def test_preview_endpoint_renders_exactly_what_a_posted_reply_stores(poster, topic):
    body = "# Title\n\n> quote\n\n1. [link](https://example.org) `code` <b>raw</b>"

    fragment = preview_html(page(poster.post(preview_url(topic), {"body": body})))

    assert fragment == make_post(topic=topic, body=body).body_html


@pytest.mark.parametrize("attack", ATTACKS)
def test_preview_endpoint_sanitises_untrusted_markup(poster, topic, attack):
    response = poster.post(preview_url(topic), {"body": attack})

    rendered = preview_html(page(response))
    assert rendered
    assert_sanitised(rendered)


@pytest.mark.parametrize("data", [{"body": ""}, {"body": "  \n\t"}, {}])
def test_preview_endpoint_of_nothing_says_so(poster, topic, data):
    response = poster.post(preview_url(topic), data)

    assert response.status_code == 200
    assert squash(page(response)) == "Nothing to preview yet: write your reply first."


def test_preview_endpoint_over_its_rate_is_429_with_retry_after(
    settings, poster, topic
):
    set_rate(settings, "preview", "2/10m")
    for _ in range(2):
        assert poster.post(preview_url(topic), {"body": "Hi"}).status_code == 200

    response = poster.post(preview_url(topic), {"body": "Hi"})

    assert response.status_code == 429
    assert response["Retry-After"].isdigit()
    assert 1 <= int(response["Retry-After"]) <= 600
    other = posting_as(make_user())
    assert other.post(preview_url(topic), {"body": "Hi"}).status_code == 200


def test_preview_endpoint_renders_an_overlong_body_cut_to_the_limit(poster, topic):
    body = "word " * 5000  # 25,000 characters

    response = poster.post(preview_url(topic), {"body": body})

    assert response.status_code == 200
    rendered = preview_html(page(response))
    assert rendered.count("word") == BODY_MAX_LENGTH // len("word ")


# After posting -------------------------------------------------------------


def test_posted_reply_is_confirmed_once_with_the_posted_tag(poster, topic):
    response = poster.post(reply_url(topic), reply_data(), follow=True)

    assert response.status_code == 200
    assert messages_shown(response) == ["Your reply is posted."]
    assertContains(response, '<li class="posted success">Your reply is posted.</li>')
    assert messages_shown(poster.get(f"/t/{topic.slug}/")) == []


def test_refused_reply_brings_no_posted_message(poster, topic):
    response = poster.post(reply_url(topic), reply_data(stances=None), follow=True)

    assert response.status_code == 200
    assert summary_errors(response) != ""
    assertNotContains(response, "Your reply is posted.")
    assert messages_shown(poster.get(f"/t/{topic.slug}/")) == []


# Queries -------------------------------------------------------------------


def test_quote_page_queries_do_not_grow_with_the_quoted_post(
    poster, topic, django_assert_max_num_queries
):
    small = make_post(topic=topic, body="Short.")
    big = make_post(
        topic=topic,
        body="\n\n".join(f"Paragraph {n} " + "word " * 100 for n in range(35)),
        tags=[f"tag{n}" for n in range(8)],
        stances=[stance(topic), stance(topic, "opposes-ban-is-justified")],
        **{**HUMAN_DISCLOSURE, "conflict": "declared", "conflict_details": "Ties."},
        conflict_parties=list(topic.parties.all()),
    )
    poster.get(reply_url(topic))  # sessions and the like, warmed

    counts = []
    for post in (small, big):
        with django_assert_max_num_queries(11) as ctx:
            assert poster.get(f"{reply_url(topic)}?quote={post.pk}").status_code == 200
        counts.append(len(ctx))

    assert counts[0] == counts[1]


# Review fixes ---------------------------------------------------------------


def test_preview_button_shares_the_preview_rate_and_keeps_the_text(
    settings, poster, topic
):
    """The no-JavaScript Preview renders too: it counts against the same rate."""
    set_rate(settings, "preview", "1/10m")
    assert poster.post(preview_url(topic), {"body": "Hi"}).status_code == 200

    data = reply_data(body="Kept **as typed**.", preview="1")
    response = poster.post(reply_url(topic), data)

    assert response.status_code == 429
    assert response["Retry-After"].isdigit()
    assert reply_form(response)["body"] == ["Kept **as typed**."]
    assertContains(response, "everything you typed is still here", status_code=429)
    assert "<strong>as typed</strong>" not in page(response)


def test_preview_button_renders_an_overlong_body_cut_to_the_limit(poster, topic):
    body = "word " * 5000  # 25,000 characters

    response = poster.post(reply_url(topic), reply_data(body=body, preview="1"))

    assert response.status_code == 200
    rendered = preview_html(preview_region(response))
    assert rendered.count("word") == len(body[:BODY_MAX_LENGTH].split())


def test_a_duplicate_submit_tells_the_page_the_text_is_posted(settings, poster, topic):
    """The warning carries the 'posted' tag, so the browser's draft is cleared."""
    set_rate(settings, "post", "off")
    poster.post(reply_url(topic), reply_data(body="Said once."), follow=True)

    again = poster.post(reply_url(topic), reply_data(body="Said once."), follow=True)

    assert Post.objects.count() == 1
    assert re.search(
        r'<li class="posted warning">You posted this same text', page(again)
    )


def test_article_blocks_cut_on_newlines_only_and_keep_reference_links():
    text = (
        "One\u2028line with a [report][r].\n\nSecond para.\n\nThird para.\n\n"
        "[r]: https://example.org/report"
    )

    numbered = [b for b in article_blocks(text) if b.number]

    assert [b.number for b in numbered] == [1, 2, 3]
    assert numbered[0].source == "One\u2028line with a [report][r]."
    assert '<a href="https://example.org/report"' in numbered[0].html
    assert [b.source for b in numbered[1:]] == ["Second para.", "Third para."]


def test_passage_opening_reads_without_markup():
    (block,) = article_blocks("A **bold** claim with [a link](https://example.org).")

    assert block.opening == "A bold claim with a link."


@pytest.mark.django_db
def test_database_refuses_a_passage_numbered_zero(topic, user):
    post = make_post(topic=topic, author=user)

    with pytest.raises(IntegrityError):
        Post.objects.filter(pk=post.pk).update(passage=0)
