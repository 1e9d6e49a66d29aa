import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from forum import services
from forum.models import Position, Post, PostStatus, Topic

from .browser_form import form_values
from .factories import PASSWORD, make_post, make_topic, make_user, stance
from .pages import (
    as_typed,
    field_errors,
    page,
    post_block,
    reply_data,
    reply_url,
    shown_post_ids,
    squash,
    summary_errors,
)

ENDANGERS = "supports-ban-endangers-defenders"
NOT_ENDANGERS = "opposes-ban-endangers-defenders"
JUSTIFIED = "supports-ban-is-justified"
NOT_JUSTIFIED = "opposes-ban-is-justified"
LOCKED = "This topic is locked: it takes no new replies."


# Reading helpers ----------------------------------------------------------


def stance_badges(fragment: str) -> list[tuple[str, str]]:
    """(polarity, label) of each stance badge, in page order."""
    return re.findall(r'<li class="stance (\w+)">(.*?)</li>', fragment)


def disclosure_strips(fragment: str) -> list[str]:
    found = re.findall(r'<p class="disclosure[^"]*">(.*?)</p>', fragment, re.S)
    return [squash(strip) for strip in found]


def reply_form_values(response) -> dict[str, list[str]]:
    match = re.search(r'<form[^>]*class="reply-form".*?</form>', page(response), re.S)
    assert match, "no reply form on the page"
    return {
        name: values
        for name, values in form_values(match.group(0)).items()
        if values != [""] and name != "csrfmiddlewaretoken"
    }


# Fixtures and data ---------------------------------------------------------


@pytest.fixture
def poster(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, moderator):
    client.force_login(moderator)
    return client


# The topic list ------------------------------------------------------------


def test_topic_list_shows_published_reply_count_and_counts_per_position(client, topic):
    make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    make_post(
        topic=topic, stances=[stance(topic, ENDANGERS), stance(topic, NOT_JUSTIFIED)]
    )
    hidden = make_post(topic=topic, stances=[stance(topic, NOT_ENDANGERS)])
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    elsewhere = make_topic()
    make_post(topic=elsewhere, stances=[stance(elsewhere, JUSTIFIED)])

    response = client.get("/")

    assert response.status_code == 200
    card = re.search(
        rf'<article class="topic-card">\s*<h2><a href="/t/{topic.slug}/">.*?</article>',
        page(response),
        re.S,
    ).group(0)
    assert '<span class="reply-count">2 replies</span>' in card
    rows = [
        [
            squash(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>.*?</tr>", card, re.S)
    ]
    assert rows == [
        ["Position", "Oppose", "Bar", "Support"],
        ["The ban endangers defenders", "0", "", "2"],
        ["The ban is justified", "1", "", "0"],
    ]
    # The compact stance map: each side's bar, split by who wrote the replies.
    assert 'class="seg seg-human w100"' in card  # 2 of 2: the widest side
    assert 'class="seg seg-human w50"' in card


def test_topic_list_puts_pinned_topics_first(client, db):
    pinned = make_topic(title="Pinned debate", is_pinned=True)
    newer = make_topic(title="Newer debate")

    response = client.get("/")

    text = page(response)
    assert text.index(pinned.title) < text.index(newer.title)


# The thread page -----------------------------------------------------------


def test_thread_shows_article_disclosure_strip_before_article_body(client, db):
    topic = make_topic(
        body="The **article** itself.",
        authorship="ai_generated",
        ai_model="Claude",
        ai_maker="Anthropic",
        conflict="declared",
        conflict_details="Its maker is named in it.",
        disclosure_statement="This article was written by Claude.",
    )
    topic.conflict_parties.set(topic.parties.filter(slug="anthropic"))

    response = client.get(f"/t/{topic.slug}/")

    assert response.status_code == 200
    text = page(response)
    article_body = text.index('<div class="article-body">')
    assert (
        text.index(
            '<div class="passage" id="passage-1"><p>The <strong>article</strong> itself.</p>'
        )
        > article_body
    )
    assert text.index('class="article-disclosure"') < article_body
    assert disclosure_strips(text)[0] == (
        "Disclosure: AI-generated with Claude (Anthropic) — Anthropic is a party to "
        "this debate · Affiliation: none · Not paid · Declared conflict with "
        "Anthropic: Its maker is named in it."
    )
    assertContains(response, "In its own words: “This article was written by Claude.”")


def test_thread_positions_panel_shows_claim_quote_and_published_counts(client, topic):
    Position.objects.filter(topic=topic, slug="ban-is-justified").update(
        quote="The government says the models are a risk."
    )
    make_post(topic=topic, stances=[stance(topic, ENDANGERS), stance(topic, JUSTIFIED)])
    make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    hidden = make_post(topic=topic, stances=[stance(topic, NOT_JUSTIFIED)])
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )

    response = client.get(f"/t/{topic.slug}/")

    panel = re.search(
        r'<section class="positions".*?</section>', page(response), re.S
    ).group(0)
    counts = [
        squash(re.sub(r"<[^>]+>", "", claim + " " + counts))
        for claim, counts in re.findall(
            r'<h3 class="claim">(.*?)</h3>\s*<p class="counts">(.*?)</p>', panel, re.S
        )
    ]
    assert counts == [
        "The ban endangers defenders 0 oppose 2 support",
        "The ban is justified 0 oppose 1 supports",
    ]
    assert "“The government says the models are a risk.”" in panel
    assert f'href="?stance={NOT_JUSTIFIED}"' in panel


def test_thread_shows_replies_oldest_first_with_author_permalink_stances_tags_and_parent(
    client, topic
):
    first = make_post(
        topic=topic, author=make_user(username="ada"), tags=["exploits", "open source"]
    )
    reply = make_post(
        topic=topic,
        author=make_user(username="grace"),
        parent=first,
        stances=[stance(topic, NOT_ENDANGERS), stance(topic, JUSTIFIED)],
    )
    # The thread goes by arrival: each reply's number, given when it was
    # stored (under the topic's lock, with its time), whatever a later change
    # to the time says.
    last = make_post(topic=topic)
    Post.objects.filter(pk=last.pk).update(created=first.created - timedelta(hours=1))

    response = client.get(f"/t/{topic.slug}/")

    assert shown_post_ids(response) == [first.pk, reply.pk, last.pk]
    assert [first.number, reply.number, last.number] == [1, 2, 3]
    first_html, reply_html = post_block(response, first), post_block(response, reply)
    assert '<strong class="author"><bdi>ada</bdi></strong>' in first_html
    assert f'<a class="permalink" href="/p/{first.pk}/"' in first_html
    assert (
        '<ul class="tags" aria-label="Keyword tags"><li>#<bdi>exploits</bdi></li>'
        "<li>#<bdi>open source</bdi></li></ul>" in first_html
    )
    assert "in reply to" not in first_html
    assert '<strong class="author"><bdi>grace</bdi></strong>' in reply_html
    assert f'in reply to <a href="/p/{first.pk}/">#{first.pk}</a>' in reply_html
    assert stance_badges(first_html) == [
        ("supports", "Supports: The ban endangers defenders")
    ]
    assert stance_badges(reply_html) == [
        ("opposes", "Opposes: The ban endangers defenders"),
        ("supports", "Supports: The ban is justified"),
    ]
    assert '<ul class="tags"' not in reply_html


@pytest.mark.parametrize(
    ("disclosure", "strip"),
    [
        (
            {
                "authorship": "ai_generated",
                "ai_model": "Claude",
                "ai_maker": "Anthropic",
            },
            "Disclosure: AI-generated with Claude (Anthropic) — Anthropic is a party to "
            "this debate · Affiliation: none · Not paid · No declared conflicts",
        ),
        (
            {
                "authorship": "ai_polished",
                "ai_model": "Claude",
                "ai_maker": "anthropic pbc",
            },
            "Disclosure: AI-polished with Claude (anthropic pbc) — Anthropic is a party "
            "to this debate · Affiliation: none · Not paid · No declared conflicts",
        ),
        (
            {
                "authorship": "ai_assisted",
                "ai_model": "GPT-4o",
                "ai_maker": "OpenAI",
                "affiliation": "Acme Labs",
                "paid": "expected",
                "paid_by": "Acme Labs",
            },
            "Disclosure: AI-assisted with GPT-4o (OpenAI) · Affiliation: Acme Labs · "
            "Expects pay from Acme Labs · No declared conflicts",
        ),
        (
            {
                "paid": "yes",
                "paid_by": "A lobby",
                "conflict": "declared",
                "conflict_details": "I consult for both.",
            },
            "Disclosure: Human-written · Affiliation: none · Paid by A lobby · "
            "Declared conflict with Anthropic, US government: I consult for both.",
        ),
    ],
    ids=[
        "ai maker is a party",
        "maker named by alias",
        "paid later",
        "declared conflict",
    ],
)
def test_reply_disclosure_strip_in_plain_words_sits_above_its_body(
    client, topic, disclosure, strip
):
    if disclosure.get("conflict") == "declared":
        disclosure["conflict_parties"] = list(topic.parties.all())
    post = make_post(topic=topic, body="The reply body.", **disclosure)

    response = client.get(f"/t/{topic.slug}/")

    block = post_block(response, post)
    assert disclosure_strips(block) == [strip]
    assert block.index('class="disclosure') < block.index(
        '<div class="body"><p>The reply body.</p>'
    )


def test_unknown_topic_is_404(poster, db):
    assert poster.get("/t/no-such-topic/").status_code == 404
    assert poster.get("/t/no-such-topic/reply/").status_code == 404


def test_signed_in_reader_gets_the_reply_form_on_the_thread_page(poster, user, topic):
    response = poster.get(f"/t/{topic.slug}/")

    assertContains(
        response,
        f'<form method="post" action="/t/{topic.slug}/reply/" class="reply-form" data-draft-owner="{user.pk}" novalidate>',
    )


def test_anonymous_reader_is_invited_to_sign_in_instead_of_a_form(client, topic):
    response = client.get(f"/t/{topic.slug}/")

    assertNotContains(response, 'class="reply-form"')
    assertContains(
        response, f'<a href="/accounts/login/?next=/t/{topic.slug}/">Sign in</a>'
    )


# Pagination, filters and permalinks ---------------------------------------


@pytest.fixture
def seven_posts(settings, topic):
    settings.STANDPOINT_POSTS_PER_PAGE = 3
    return [make_post(topic=topic) for _ in range(7)]


@pytest.mark.parametrize(
    ("number", "index", "line"),
    [
        ("", 0, "7 replies."),
        ("1", 0, "7 replies."),
        # A full run of older replies gives its place, not the count the next
        # reply would change (it stays cached while people post).
        ("2", 3, "Replies 4–6."),
        ("3", 6, "7 replies."),
    ],
)
def test_thread_pages_replies_in_thread_order(
    client, topic, seven_posts, number, index, line
):
    response = client.get(f"/t/{topic.slug}/", {"page": number} if number else {})

    assert response.status_code == 200
    assert shown_post_ids(response) == [
        post.pk for post in seven_posts[index : index + 3]
    ]
    assert re.search(r'<p class="result-count">(.*?)</p>', page(response))[1] == line


def test_thread_page_links_to_its_neighbours(client, topic, seven_posts):
    response = client.get(f"/t/{topic.slug}/?page=2")

    assertContains(response, '<a rel="prev" href="?page=1">← Earlier</a>', html=True)
    assertContains(response, '<a rel="next" href="?page=3">Later →</a>', html=True)
    assertContains(response, "Page 2 of 3")


@pytest.mark.parametrize("number", ["4", "0", "-1", "abc", "99999999999999999999999"])
def test_thread_page_out_of_range_or_not_a_number_is_404(
    client, topic, seven_posts, number
):
    assert client.get(f"/t/{topic.slug}/", {"page": number}).status_code == 404


@pytest.fixture
def mixed_thread(settings, topic):
    """Six replies: stance and authorship vary, so each filter keeps a known subset."""
    settings.STANDPOINT_POSTS_PER_PAGE = 2
    ai = {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"}
    return [
        make_post(topic=topic, stances=[stance(topic, ENDANGERS)]),
        make_post(topic=topic, stances=[stance(topic, ENDANGERS)], **ai),
        make_post(topic=topic, stances=[stance(topic, NOT_JUSTIFIED)], **ai),
        make_post(
            topic=topic,
            stances=[stance(topic, ENDANGERS), stance(topic, NOT_JUSTIFIED)],
            **ai,
        ),
        make_post(topic=topic, stances=[stance(topic, NOT_JUSTIFIED)]),
        make_post(topic=topic, stances=[stance(topic, ENDANGERS)], **ai),
    ]


@pytest.mark.parametrize(
    ("query", "kept", "line"),
    [
        # The older of two full runs: its place; the newest run: the count.
        ({"stance": ENDANGERS}, [0, 1], "Matching replies 1–2."),
        ({"stance": ENDANGERS, "page": "2"}, [3, 5], "4 repl"),
        ({"authorship": "ai_generated"}, [1, 2], "Matching replies 1–2."),
        ({"authorship": "ai_generated", "page": "2"}, [3, 5], "4 repl"),
        ({"stance": NOT_JUSTIFIED, "authorship": "ai_generated"}, [2, 3], "2 repl"),
        ({"stance": NOT_JUSTIFIED, "authorship": "human"}, [4], "1 repl"),
        ({"stance": JUSTIFIED}, [], "0 repl"),
        ({"stance": "", "authorship": ""}, [0, 1], "6 repl"),
    ],
)
def test_thread_filters_combine_with_each_other_and_with_pages(
    client, topic, mixed_thread, query, kept, line
):
    response = client.get(f"/t/{topic.slug}/", query)

    assert response.status_code == 200
    assert shown_post_ids(response) == [mixed_thread[i].pk for i in kept]
    assert (
        re.search(r'<p class="result-count">(.*?)</p>', page(response))
        .group(1)
        .startswith(line)
    )


def test_filtered_thread_page_links_keep_the_filters(client, topic, mixed_thread):
    response = client.get(
        f"/t/{topic.slug}/", {"stance": ENDANGERS, "authorship": "ai_generated"}
    )

    assertContains(
        response,
        f'<a rel="next" href="?stance={ENDANGERS}&amp;authorship=ai_generated&amp;page=2">Later →</a>',
        html=True,
    )
    # The chip of the stance in use is marked and takes it away, keeping the rest.
    assertContains(
        response,
        '<a class="chip supports on" aria-current="true" aria-label="Supports: '
        'The ban endangers defenders (selected; select to remove)" '
        'href="?authorship=ai_generated">',
        html=False,
    )
    assertContains(
        response,
        f'<a class="chip" href="?stance={ENDANGERS}&amp;authorship=ai_generated&amp;written=human">',
        html=False,
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"stance": "supports-nothing"}, "There is no such stance in this topic."),
        (
            {"stance": "supports-export-rules-work"},
            "There is no such stance in this topic.",
        ),
        ({"authorship": "robot"}, "Choose a kind of authorship from the list."),
    ],
    ids=["unknown stance", "stance of another topic", "unknown authorship"],
)
def test_thread_filter_with_unknown_value_is_400_with_message(
    client, topic, other_topic, query, message
):
    response = client.get(f"/t/{topic.slug}/", query)

    assert response.status_code == 400
    assert f"<li>{escape(message)}</li>" in page(response)


def test_permalink_redirects_to_the_page_and_anchor_of_its_post(
    client, topic, seven_posts
):
    for index, query in [(0, ""), (2, ""), (3, "?page=2"), (6, "?page=3")]:
        post = seven_posts[index]
        response = client.get(f"/p/{post.pk}/")
        assertRedirects(
            response,
            f"/t/{topic.slug}/{query}#p{post.pk}",
            fetch_redirect_response=False,
        )


def test_permalink_of_unknown_post_is_404(client, db):
    assert client.get("/p/424242/").status_code == 404
    assert client.get("/p/99999999999999999999999/").status_code == 404


# Hidden posts -------------------------------------------------------------


@pytest.fixture
def thread_with_hidden_post(settings, topic):
    settings.STANDPOINT_POSTS_PER_PAGE = 2
    shown = make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    hidden = make_post(
        topic=topic, stances=[stance(topic, NOT_JUSTIFIED)], body="Spam, spam."
    )
    last = make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    return shown, hidden, last


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "reader"])
def test_hidden_post_leaves_a_tombstone_and_the_counts(
    client, user, topic, thread_with_hidden_post, signed_in
):
    shown, hidden, last = thread_with_hidden_post
    if signed_in:
        client.force_login(user)

    thread = client.get(f"/t/{topic.slug}/")

    assert shown_post_ids(thread) == [shown.pk, hidden.pk]
    assertNotContains(thread, "Spam, spam.")
    assert squash(post_block(thread, hidden)) == (
        f"#{hidden.pk} Hidden by moderators: Test reason."
    )
    assertContains(thread, "2 replies, and 1 hidden by moderators")
    assertContains(
        thread,
        f'<a class="count opposes" href="?stance={NOT_JUSTIFIED}">0 oppose</a>',
        html=True,
    )
    assertContains(
        client.get("/"), '<span class="reply-count">2 replies</span>', html=True
    )
    # The permalink finds the tombstone; the tombstone keeps `last` on page 2.
    assertRedirects(
        client.get(f"/p/{hidden.pk}/"),
        f"/t/{topic.slug}/#p{hidden.pk}",
        fetch_redirect_response=False,
    )
    assertRedirects(
        client.get(f"/p/{last.pk}/"),
        f"/t/{topic.slug}/?page=2#p{last.pk}",
        fetch_redirect_response=False,
    )


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "reader"])
def test_filtered_thread_leaves_hidden_posts_out(
    client, user, topic, thread_with_hidden_post, signed_in
):
    shown, hidden, last = thread_with_hidden_post
    if signed_in:
        client.force_login(user)

    thread = client.get(f"/t/{topic.slug}/?stance={NOT_JUSTIFIED}")

    assert shown_post_ids(thread) == []
    assertContains(thread, "0 replies match these filters.")


def test_staff_see_hidden_post_marked_and_reach_its_permalink(
    staff_client, topic, thread_with_hidden_post
):
    shown, hidden, last = thread_with_hidden_post

    thread = staff_client.get(f"/t/{topic.slug}/")

    assert shown_post_ids(thread) == [shown.pk, hidden.pk]
    assert "Hidden by moderators (visible to staff only): Test reason." in (
        post_block(thread, hidden)
    )
    assert "Spam, spam." in post_block(thread, hidden)
    assertRedirects(
        staff_client.get(f"/p/{hidden.pk}/"),
        f"/t/{topic.slug}/#p{hidden.pk}",
        fetch_redirect_response=False,
    )
    assertRedirects(
        staff_client.get(f"/p/{last.pk}/"),
        f"/t/{topic.slug}/?page=2#p{last.pk}",
        fetch_redirect_response=False,
    )


# Replying ------------------------------------------------------------------


def test_reply_form_requires_sign_in(client, topic):
    response = client.get(reply_url(topic), {"parent": "7"})

    assertRedirects(
        response,
        f"/accounts/login/?next=/t/{topic.slug}/reply/%3Fparent%3D7",
        fetch_redirect_response=False,
    )


def test_anonymous_reply_post_is_sent_to_sign_in_and_stores_nothing(client, topic):
    response = client.post(reply_url(topic), reply_data())

    assertRedirects(
        response,
        f"/accounts/login/?next=/t/{topic.slug}/reply/",
        fetch_redirect_response=False,
    )
    assert not Post.objects.exists()


def test_reply_form_shows_every_contract_field(poster, topic):
    response = poster.get(reply_url(topic))

    assert response.status_code == 200
    names = set(re.findall(r'name="([a-z_0-9]+)"', page(response)))
    assert names >= {
        "body",
        "stances",
        "tags",
        "parent",
        "authorship",
        "ai_model",
        "ai_maker",
        "affiliation",
        "paid",
        "paid_by",
        "conflict",
        "conflict_parties",
        "conflict_details",
        "attest",
    }
    assertContains(
        response,
        f'<input type="checkbox" name="stances" value="{ENDANGERS}"',
        html=False,
    )
    assertContains(
        response,
        '<input type="checkbox" name="conflict_parties" value="us-government"',
        html=False,
    )
    assert reply_form_values(response) == {}


def test_reply_form_prefills_parent_from_query_string(poster, topic):
    parent = make_post(topic=topic)

    response = poster.get(reply_url(topic), {"parent": parent.pk})

    assert reply_form_values(response) == {"parent": [str(parent.pk)]}
    assertContains(
        response, f'Replying to <a href="/p/{parent.pk}/">post #{parent.pk}</a>.'
    )


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "-1",
        "1.5",
        pytest.param("²"),
        pytest.param("٣"),
    ],
)
def test_reply_form_ignores_a_parent_that_is_not_a_post_id(poster, topic, value):
    response = poster.get(reply_url(topic), {"parent": value})

    assert response.status_code == 200
    assertNotContains(response, "Replying to")


def test_valid_reply_is_stored_with_everything_and_redirects_to_its_permalink(
    poster, user, topic
):
    parent = make_post(topic=topic)

    response = poster.post(reply_url(topic), reply_data(parent=str(parent.pk)))

    post = Post.objects.exclude(pk=parent.pk).get()
    assertRedirects(response, f"/p/{post.pk}/", fetch_redirect_response=False)
    assert (post.topic, post.author, post.parent) == (topic, user, parent)
    assert post.body == "Defenders need *these* models."
    assert post.body_html == "<p>Defenders need <em>these</em> models.</p>\n"
    assert sorted(post.stances.values_list("slug", flat=True)) == [
        NOT_JUSTIFIED,
        ENDANGERS,
    ]
    assert sorted(post.tags.names()) == ["exploits", "open source"]
    assert (post.authorship, post.ai_model, post.ai_maker) == (
        "ai_assisted",
        "Claude",
        "Anthropic",
    )
    assert (post.affiliation, post.paid, post.paid_by) == (
        "University of Nowhere",
        "expected",
        "A think tank",
    )
    assert post.conflict == "declared"
    assert sorted(post.conflict_parties.values_list("slug", flat=True)) == [
        "anthropic",
        "us-government",
    ]
    assert post.conflict_details == "I advise both on export rules."
    assert post.attested_at is not None
    assert post.status == PostStatus.PUBLISHED
    assertRedirects(
        poster.get(f"/p/{post.pk}/"),
        f"/t/{topic.slug}/#p{post.pk}",
        fetch_redirect_response=False,
    )


def test_minimal_human_reply_is_stored(poster, topic):
    data = {
        "body": "Short.",
        "stances": JUSTIFIED,
        "authorship": "human",
        "affiliation": "none",
        "paid": "no",
        "conflict": "none",
        "attest": "on",
    }

    response = poster.post(reply_url(topic), data)

    post = Post.objects.get()
    assertRedirects(response, f"/p/{post.pk}/", fetch_redirect_response=False)
    assert (post.authorship, post.ai_model, post.ai_maker, post.paid_by) == (
        "human",
        "",
        "",
        "",
    )
    assert list(post.tags.names()) == []
    assert post.parent is None


CHOICE = "Select a valid choice. %s is not one of the available choices."

# (changes to a valid reply, field whose errorlist shows it, message)
REJECTED_REPLIES = {
    "body empty": ({"body": ""}, "body", "Write your reply before posting."),
    "body whitespace": ({"body": "  \n "}, "body", "Write your reply before posting."),
    "body too long": (
        {"body": "x" * 20_001},
        "body",
        "Ensure this value has at most 20000 characters (it has 20001).",
    ),
    "body NUL byte": (
        {"body": "nul\x00byte"},
        "body",
        "Null characters are not allowed.",
    ),
    "no stance": (
        {"stances": []},
        "stances",
        "Choose at least one stance: say where this reply stands.",
    ),
    "both polarities": (
        {"stances": [ENDANGERS, NOT_ENDANGERS]},
        "stances",
        "A reply cannot both support and oppose “The ban endangers defenders”.",
    ),
    "stance of another topic": (
        {"stances": ["supports-export-rules-work"]},
        "stances",
        CHOICE % "supports-export-rules-work",
    ),
    "too many tags": (
        {"tags": ",".join(f"t{i}" for i in range(11))},
        "tags",
        "Use at most 10 keyword tags.",
    ),
    "tag too long": (
        {"tags": "ok, " + "y" * 51},
        "tags",
        "Keep each keyword tag to 50 characters (“yyyyyyyyyyyyyyyyyyyy…” is longer).",
    ),
    "authorship missing": (
        {"authorship": None},
        "authorship",
        "Say who wrote this post.",
    ),
    "authorship unknown": ({"authorship": "robot"}, "authorship", CHOICE % "robot"),
    "AI without model": (
        {"ai_model": ""},
        "ai_model",
        "Name the AI model you used, e.g. “Claude”.",
    ),
    "AI without maker": (
        {"ai_maker": " "},
        "ai_maker",
        "Name the company or group that made the AI model, e.g. “Anthropic”.",
    ),
    "human with model": (
        {"authorship": "human", "ai_maker": ""},
        "ai_model",
        "Leave the AI model and maker empty for a human-written post, or choose how AI was involved.",
    ),
    "affiliation blank": (
        {"affiliation": ""},
        "affiliation",
        "Give your relevant employer or organisation, or write “none”.",
    ),
    "affiliation whitespace": (
        {"affiliation": "   "},
        "affiliation",
        "Give your relevant employer or organisation, or write “none”.",
    ),
    "paid missing": (
        {"paid": None},
        "paid",
        "Say whether you are paid to post on this.",
    ),
    "paid without payer": (
        {"paid": "yes", "paid_by": ""},
        "paid_by",
        "Say who pays you, or will, to post on this.",
    ),
    "unpaid with payer": (
        {"paid": "no"},
        "paid_by",
        "Leave “paid by” empty when you are not paid, or change your answer above.",
    ),
    "conflict missing": (
        {"conflict": None},
        "conflict",
        "Say whether you have a conflict of interest.",
    ),
    "conflict without parties": (
        {"conflict_parties": []},
        "conflict_parties",
        "Choose the party or parties your conflict of interest involves.",
    ),
    "conflict without details": (
        {"conflict_details": ""},
        "conflict_details",
        "Describe the conflict of interest in a sentence or two.",
    ),
    "no conflict with parties": (
        {"conflict": "none", "conflict_details": ""},
        "conflict",
        "Choose “declared” to name a conflict, or clear its parties and details.",
    ),
    "party of another topic": (
        {"conflict_parties": ["amazon"]},
        "conflict_parties",
        CHOICE % "amazon",
    ),
    "not attested": (
        {"attest": None},
        "attest",
        "Confirm that your disclosure is complete and accurate.",
    ),
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            *case,
            id=name,
        )
        for name, case in REJECTED_REPLIES.items()
    ],
)
def test_rejected_reply_stores_nothing_explains_at_the_field_and_keeps_typed_input(
    poster, topic, other_topic, changes, field, message
):
    data = reply_data(**changes)

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert not Post.objects.exists()
    assert field_errors(response, field) == [message]
    typed = as_typed(data)
    if message.startswith("Select a valid choice."):
        # A value the form never offered has no checkbox or radio to come back in.
        del typed[field]
    assert reply_form_values(response) == typed


# (parent given, message shown in the error summary, which holds hidden fields' errors)
REJECTED_PARENTS = {
    "nonexistent": (lambda topic: "424242", "That post does not exist."),
    "huge": (
        lambda topic: "9" * 30,
        "Ensure this value is less than or equal to 9223372036854775807.",
    ),
    "largest id": (lambda topic: str(2**63 - 1), "That post does not exist."),
    "of another topic": (
        lambda topic: str(make_post().pk),
        "You can only reply to a post in this topic.",
    ),
    "hidden": (
        lambda topic: _hidden_post_id(topic),
        "That post was hidden by moderators; reply to the topic instead.",
    ),
}


def _hidden_post_id(topic) -> str:
    post = make_post(topic=topic)
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    return str(post.pk)


@pytest.mark.parametrize(
    ("make_parent", "message"),
    [
        pytest.param(
            *case,
            id=name,
        )
        for name, case in REJECTED_PARENTS.items()
    ],
)
def test_reply_to_a_parent_it_cannot_answer_is_rejected_and_text_kept(
    poster, topic, make_parent, message
):
    data = reply_data(parent=make_parent(topic))
    before = Post.objects.count()

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert Post.objects.count() == before
    assert message in summary_errors(response)
    assert reply_form_values(response) == as_typed(data)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Enter a whole number."),
        ("-1", "Ensure this value is greater than or equal to 1."),
        ("٣", "That post does not exist."),
    ],
)
def test_reply_with_parent_that_is_no_post_id_is_rejected_and_text_kept(
    poster, topic, value, message
):
    data = reply_data(parent=value)

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert not Post.objects.exists()
    assert message in summary_errors(response)
    assert reply_form_values(response) == as_typed(data)


def test_reply_with_parent_id_in_arabic_indic_digits_is_re_rendered(poster, topic):
    parent = make_post(topic=topic)
    value = str(parent.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    data = reply_data(parent=value, attest=None)

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 200
    assert Post.objects.count() == 1
    assert reply_form_values(response) == as_typed(data)


def test_rejected_reply_shows_typed_markup_escaped(poster, topic):
    data = reply_data(
        body='I <b>insist</b> & "quote"',
        affiliation="<b>Acme</b> & Co",
        ai_model="<i>Claude</i>",
        attest=None,
    )

    response = poster.post(reply_url(topic), data)

    text = page(response)
    assert "I &lt;b&gt;insist&lt;/b&gt; &amp; &quot;quote&quot;</textarea>" in text
    assert 'value="&lt;b&gt;Acme&lt;/b&gt; &amp; Co"' in text
    assert 'value="&lt;i&gt;Claude&lt;/i&gt;"' in text
    assert "<b>insist</b>" not in text
    assert "<b>Acme</b>" not in text


# Locked topics -------------------------------------------------------------


def test_locked_topic_refuses_reply_form(poster, db):
    topic = make_topic(is_locked=True)

    response = poster.get(reply_url(topic))

    assert response.status_code == 403
    assertContains(response, LOCKED, status_code=403)
    assertNotContains(response, 'class="reply-form"', status_code=403)


def test_locked_topic_refuses_reply_stores_nothing_and_keeps_text(poster, db):
    topic = make_topic(is_locked=True)
    data = reply_data(body="My carefully written reply.")

    response = poster.post(reply_url(topic), data)

    assert response.status_code == 403
    assertContains(response, LOCKED, status_code=403)
    assert not Post.objects.exists()
    assert reply_form_values(response) == as_typed(data)


def test_topic_locked_between_form_and_submit_refuses_reply(poster, topic):
    assert poster.get(reply_url(topic)).status_code == 200
    services.topics_set_flag(
        topics=Topic.objects.filter(pk=topic.pk),
        flag="is_locked",
        value=True,
        actor=None,
        reason="Test reason.",
    )

    response = poster.post(reply_url(topic), reply_data())

    assert response.status_code == 403
    assertContains(response, LOCKED, status_code=403)
    assert not Post.objects.exists()


def test_topic_locked_while_the_reply_is_checked_refuses_it(poster, topic, monkeypatch):
    """The lock is re-read inside the write transaction, not trusted from the view."""
    from forum.forms import PostForm

    original_clean = PostForm.clean

    def clean_then_lock(form):
        services.topics_set_flag(
            topics=Topic.objects.filter(pk=topic.pk),
            flag="is_locked",
            value=True,
            actor=None,
            reason="Test reason.",
        )
        return original_clean(form)

    monkeypatch.setattr(PostForm, "clean", clean_then_lock)

    response = poster.post(reply_url(topic), reply_data(body="Racing the lock."))

    assert response.status_code == 403
    assertContains(response, LOCKED, status_code=403)
    assertContains(response, "Racing the lock.", status_code=403)
    assert not Post.objects.exists()


def test_locked_thread_offers_no_reply_form(poster, db):
    topic = make_topic(is_locked=True)

    response = poster.get(f"/t/{topic.slug}/")

    assertContains(response, LOCKED)
    assertNotContains(response, 'class="reply-form"')


# CSRF and markup safety ----------------------------------------------------


def test_reply_without_csrf_token_is_refused_and_stores_nothing(user, topic):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(reply_url(topic), reply_data())

    assert response.status_code == 403
    assert not Post.objects.exists()


def test_reply_with_csrf_token_from_the_form_is_accepted(user, topic):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    form = browser.get(reply_url(topic))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page(form)).group(
        1
    )

    response = browser.post(reply_url(topic), reply_data(csrfmiddlewaretoken=token))

    assert response.status_code == 302
    assert Post.objects.count() == 1


class _LiveMarkup(HTMLParser):
    """Record every element and attribute a browser would act on."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.handlers = []
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name, value))
            if name in ("href", "src", "action", "formaction") and value:
                self.urls.append(value)


def live_markup(html: str) -> _LiveMarkup:
    parser = _LiveMarkup()
    parser.feed(html)
    return parser


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "<javascript:alert(1)>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example/></iframe>",
    "[x](vbscript:msgbox(1))",
    '[x](https://example.org "title\\" onmouseover=\\"alert(1)")',
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_markdown_payload_never_reaches_the_thread_as_live_html(poster, topic, payload):
    response = poster.post(reply_url(topic), reply_data(body=f"Look: {payload}"))
    assert response.status_code == 302
    post = Post.objects.get()

    thread = Client().get(f"/t/{topic.slug}/")
    body = re.search(
        r'<div class="body">(.*?)</div>', post_block(thread, post), re.S
    ).group(1)

    markup = live_markup(body)
    assert set(markup.tags) <= {"p", "a", "em", "strong", "code", "br"}
    assert markup.handlers == []
    assert all(url.startswith(("https://", "http://")) for url in markup.urls), (
        markup.urls
    )
    assert "<script>alert(1)" not in page(thread)


def test_links_in_replies_get_nofollow_ugc_noopener(poster, topic):
    poster.post(
        reply_url(topic),
        reply_data(body="See [the letter](https://example.org/letter)."),
    )

    thread = poster.get(f"/t/{topic.slug}/")

    assertContains(
        thread,
        '<a href="https://example.org/letter" rel="nofollow ugc noopener">the letter</a>',
        html=True,
    )


def test_user_text_in_disclosure_and_tags_is_escaped(poster, topic):
    data = reply_data(
        affiliation="<b>Acme</b>",
        ai_model="<script>alert(1)</script>",
        paid_by="<i>Lobby</i>",
        conflict_details="<u>shares</u>",
        tags="<em>tag</em>",
    )
    poster.post(reply_url(topic), data)

    thread = Client().get(f"/t/{topic.slug}/")

    text = page(thread)
    assert "Affiliation: <bdi>&lt;b&gt;Acme&lt;/b&gt;</bdi>" in text
    assert "with <bdi>&lt;script&gt;alert(1)&lt;/script&gt;</bdi> (<bdi>" in text
    assert "Expects pay from <bdi>&lt;i&gt;Lobby&lt;/i&gt;</bdi>" in text
    assert ": <bdi>&lt;u&gt;shares&lt;/u&gt;</bdi>" in text
    assert "<li>#<bdi>&lt;em&gt;tag&lt;/em&gt;</bdi></li>" in text
    for raw in ("<b>Acme", "<script>alert", "<i>Lobby", "<u>shares", "<em>tag"):
        assert raw not in text


# Accounts ------------------------------------------------------------------


SIGNUP = {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD}


def test_signup_creates_account_signs_in_and_follows_safe_next(client, topic):
    response = client.post(f"/accounts/signup/?next=/t/{topic.slug}/", SIGNUP)

    assertRedirects(response, f"/t/{topic.slug}/")
    newcomer = get_user_model().objects.get(username="newcomer")
    assert client.session["_auth_user_id"] == str(newcomer.pk)
    assertContains(
        client.get("/"),
        'Signed in as <a href="/u/newcomer/"><strong>newcomer</strong></a>',
    )


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]
)
def test_signup_ignores_next_pointing_off_site(client, db, next_url):
    response = client.post("/accounts/signup/", {**SIGNUP, "next": next_url})

    assertRedirects(response, "/")


def test_signup_with_mismatched_passwords_is_rejected_and_username_kept(client, db):
    response = client.post(
        "/accounts/signup/", {**SIGNUP, "password2": "something else entirely"}
    )

    assert response.status_code == 200
    assert field_errors(response, "password2") == [
        "The two password fields didn’t match."
    ]
    assertContains(response, 'value="newcomer"')
    assert "_auth_user_id" not in client.session


def test_login_signs_in_and_follows_safe_next(client, user, topic):
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "next": f"/t/{topic.slug}/"},
    )

    assertRedirects(response, f"/t/{topic.slug}/")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_ignores_next_pointing_off_site(client, user):
    response = client.post(
        "/accounts/login/",
        {
            "username": user.username,
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )

    assertRedirects(response, "/")


def test_login_with_wrong_password_is_rejected(client, user):
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": "wrong"}
    )

    assert response.status_code == 200
    assert "Please enter a correct username and password." in summary_errors(response)
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(poster):
    assert poster.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in poster.session

    response = poster.post("/accounts/logout/")

    assertRedirects(response, "/")
    assert "_auth_user_id" not in poster.session


def test_reply_form_shows_the_post_it_answers_with_its_disclosure(client, topic):
    parent = make_post(
        topic=topic,
        author=make_user(username="ada"),
        body="Models <b>help</b> defenders.",
        authorship="ai_assisted",
        ai_model="Claude",
        ai_maker="Anthropic PBC",
    )
    client.force_login(make_user())

    response = client.get(f"{reply_url(topic)}?parent={parent.pk}")

    section = re.search(
        r'<section class="replying-to-post".*?</section>', page(response), re.S
    ).group(0)
    assert squash(section) == (
        f"You are replying to #{parent.pk} by ada "
        "Disclosure: AI-assisted with Claude (Anthropic PBC) — Anthropic is a party to "
        "this debate · Affiliation: none · Not paid · No declared conflicts "
        "Models <b>help</b> defenders."
    )
    assert "<b>help</b>" not in section


@pytest.mark.parametrize("which", ["hidden", "of another topic", "huge"])
def test_reply_form_quotes_no_post_it_cannot_answer(client, topic, other_topic, which):
    target = make_post(topic=other_topic if which == "of another topic" else topic)
    if which == "hidden":
        services.posts_set_status(
            posts=Post.objects.filter(pk=target.pk),
            status=PostStatus.HIDDEN,
            actor=None,
            reason="Spam.",
        )
    parent = str(2**64) if which == "huge" else str(target.pk)
    client.force_login(make_user())

    response = client.get(f"{reply_url(topic)}?parent={parent}")

    assert response.status_code == 200
    assertNotContains(response, "You are replying to")
