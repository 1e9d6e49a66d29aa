"""Search, /search/, through the front door, on whichever database the suite
runs (SQLite's FTS5 here, PostgreSQL's tsvector in CI's second run)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from forum import services
from forum.models import Post, PostRevision, PostStatus

from .factories import edit_post, make_post, make_topic, make_user, stance


def found(client, **query) -> list[int]:
    response = client.get("/search/", query)
    assert response.status_code == 200, response.content[:500]
    return [
        int(pk)
        for pk in re.findall(
            r"Read it in the thread<span class=\"visually-hidden\"> \(reply #(\d+)\)",
            response.content.decode(),
        )
    ]


@pytest.fixture
def replies(topic):
    kim = make_user(username="kimberly")
    return {
        "export": make_post(topic=topic, body="Export controls hurt defenders badly."),
        "model": make_post(
            topic=topic,
            author=kim,
            body="A model wrote this about export licences.",
            authorship="ai_generated",
            ai_model="Claude",
            ai_maker="Anthropic",
            stances=[stance(topic, "opposes-ban-endangers-defenders")],
            tags=["licensing"],
        ),
        "paid": make_post(
            topic=topic,
            body="Paid opinion on export rules.",
            paid="yes",
            paid_by="A lobby",
        ),
    }


def test_finds_by_text_tags_and_author_with_highlighted_excerpts(client, replies):
    assert set(found(client, q="export")) == {p.pk for p in replies.values()}
    assert found(client, q="licensing") == [replies["model"].pk]
    assert found(client, q="kimberly") == [replies["model"].pk]
    page = client.get("/search/", {"q": "defenders"}).content.decode()
    assert "<mark>defenders</mark>" in page
    assert f'href="/p/{replies["export"].pk}/"' in page
    page = client.get("/search/", {"q": "licensing"}).content.decode()
    assert "AI-generated" in page  # the disclosure strip, in the thread's words
    assert "Anthropic is a party to this debate" in page
    assert "Opposes: The ban endangers defenders" in page
    assert "<mark>licensing</mark>" not in page  # tags match, the excerpt is text


def test_every_word_must_match(client, replies):
    assert found(client, q="export defenders") == [replies["export"].pk]
    assert found(client, q="export nothinglikethis") == []


def test_filters_narrow_as_on_the_thread(client, replies, topic, other_topic):
    elsewhere = make_post(
        topic=other_topic,
        body="Export elsewhere.",
        stances=[stance(other_topic, "supports-export-rules-work")],
    )
    everything = {p.pk for p in replies.values()} | {elsewhere.pk}
    assert set(found(client, q="export")) == everything
    assert set(found(client, q="export", topic=topic.slug)) == {
        p.pk for p in replies.values()
    }
    assert found(client, q="export", written="ai_generated") == [replies["model"].pk]
    assert set(found(client, q="export", written="not_ai_generated")) == everything - {
        replies["model"].pk
    }
    assert found(client, q="export", authorship="ai_generated") == [replies["model"].pk]
    assert found(client, q="export", ties="declared") == [replies["paid"].pk]
    assert found(
        client, q="export", topic=topic.slug, stance="opposes-ban-endangers-defenders"
    ) == [replies["model"].pk]
    assert found(client, q="export", stance="supports-export-rules-work") == [
        elsewhere.pk
    ]


def test_ranks_by_relevance_or_by_date(client, topic):
    once = make_post(
        topic=topic, body="Drones are mentioned here, and much else besides, at length."
    )
    often = make_post(topic=topic, body="Drones, drones, drones.")
    assert found(client, q="drones") == [often.pk, once.pk]
    assert found(client, q="drones", sort="relevance") == [often.pk, once.pk]
    later = make_post(topic=topic, body="Drones once more, and other things entirely.")
    assert found(client, q="drones", sort="newest") == [later.pk, often.pk, once.pk]


def test_the_index_follows_every_kind_of_write(client, topic, moderator):
    post = make_post(topic=topic, body="Original aardvark text.")
    assert found(client, q="aardvark") == [post.pk]
    edit_post(post, body="Rewritten with a pangolin.", reason="clarity")
    assert found(client, q="aardvark") == []
    assert found(client, q="pangolin") == [post.pk]
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam",
    )
    assert found(client, q="pangolin") == []
    services.posts_set_status(
        posts=Post.objects.filter(pk=post.pk),
        status=PostStatus.PUBLISHED,
        actor=moderator,
        reason="Fine after all",
    )
    assert found(client, q="pangolin") == [post.pk]
    first = PostRevision.objects.get(post=post, number=1)
    services.revisions_redact(
        revisions=PostRevision.objects.filter(pk=first.pk),
        actor=moderator,
        reason="Personal data",
    )
    assert found(client, q="aardvark") == []
    assert found(client, q="pangolin") == [post.pk]
    edit_post(post, body="Now about a narwhal.", tags=["zoology"], reason="more")
    assert found(client, q="zoology") == [post.pk]


def test_a_hidden_replys_words_are_never_found(client, topic, moderator):
    hidden = make_post(topic=topic, body="Secret xylophonist words.", tags=["quokka"])
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Doxxing",
    )
    for word in ("xylophonist", "quokka", hidden.author.username):
        page = client.get("/search/", {"q": word}).content.decode()
        assert "Secret" not in page and "0 replies found" in page
        assert found(client, q=word) == []
    client.force_login(moderator)  # not for staff either: search shows what readers see
    assert found(client, q="xylophonist") == []


HOSTILE = [
    '"',
    '"unbalanced',
    "export AND defenders",
    "export OR",
    "NOT export",
    "NEAR(export defenders, 2)",
    "export*",
    "*",
    "body:export",
    "^export",
    "(export",
    "export)",
    "a \x00 b",
    "\x00",
    "日本語",
    "Ελληνικά export",
    "مرحبا",
    "'; DROP TABLE forum_post; --",
    "<script>alert(1)</script>",
    "%_%",
    "\\",
    "-export",
    "+export",
    "export -defenders",
    "{}[]",
    "\u202etxet",
    "a" * 200,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_only_words(client, replies, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    assert b"<script>alert(1)</script>" not in response.content


def test_non_latin_words_are_found(client, topic):
    post = make_post(topic=topic, body="Ein Text auf 日本語 und Ελληνικά.")
    assert found(client, q="日本語") == [post.pk]
    assert found(client, q="ελληνικά") == [post.pk]


def test_bad_input_keeps_what_was_typed(client, replies):
    long = "x" * 201
    response = client.get("/search/", {"q": long})
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
    assert f'value="{long}"' in response.content.decode()
    for query in (
        {"q": "export", "sort": "random"},
        {"q": "export", "topic": "nope"},
        {"q": "export", "stance": "no-such-stance"},
        {"q": "export", "ties": "x"},
    ):
        response = client.get("/search/", query)
        assert response.status_code == 400, query
        assert 'value="export"' in response.content.decode()


def test_an_empty_query_shows_the_form(client, db):
    response = client.get("/search/")
    assert response.status_code == 200
    assert 'name="q"' in response.content.decode()
    assert "found." not in response.content.decode()


def test_searches_are_limited_per_address(client, replies, settings):
    settings.STANDPOINT_RATE_LIMITS = {
        **settings.STANDPOINT_RATE_LIMITS,
        "search": "2/m",
    }
    assert client.get("/search/", {"q": "export"}).status_code == 200
    assert client.get("/search/", {"q": "export"}).status_code == 200
    refused = client.get("/search/", {"q": "export"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert 'value="export"' in refused.content.decode()


def test_every_page_has_an_accessible_search_box(client, topic):
    page = client.get(topic.get_absolute_url()).content.decode()
    assert 'role="search"' in page
    assert (
        '<label for="site-search-q" class="visually-hidden">Search replies</label>'
        in page
    )
    assert 'id="site-search-q"' in page and 'aria-label="Site search"' in page


@pytest.mark.parametrize("size", [3, 60])
def test_a_results_page_costs_the_same_queries_at_any_size(
    client, topic, size, django_assert_max_num_queries, monkeypatch
):
    from forum import limits

    monkeypatch.setattr(limits, "SWEEP_ONE_IN", 10**12)
    for n in range(size):
        make_post(topic=topic, body=f"Common word number {n}.", tags=["t"])
    with django_assert_max_num_queries(12):
        response = client.get(
            "/search/", {"q": "common", "topic": topic.slug, "ties": "none"}
        )
    assert response.status_code == 200


def test_the_index_is_rebuilt_from_the_posts(client, replies, topic):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM forum_searchentry")
    assert found(client, q="export") == []
    out = StringIO()
    call_command("search_index", "--rebuild", stdout=out)
    assert "3 replies indexed" in out.getvalue()
    assert set(found(client, q="export")) == {p.pk for p in replies.values()}


def test_a_search_in_a_second_topic_finds_it(client, db):
    topic = make_topic()
    post = make_post(topic=topic, body="Semiconductor supply chains.")
    assert found(client, q="semiconductor", topic=topic.slug) == [post.pk]


def test_counts_stop_past_a_thousand(client, topic, monkeypatch):
    from forum import search

    monkeypatch.setattr(search, "COUNTED", 3)
    made = [make_post(topic=topic, body=f"Walrus number {n}.") for n in range(5)]
    page = client.get("/search/", {"q": "walrus", "sort": "newest"}).content.decode()
    assert "More than 3 replies found: the first 3 are shown." in page
    assert (
        found(client, q="walrus", sort="newest") == [p.pk for p in reversed(made)][:3]
    )
