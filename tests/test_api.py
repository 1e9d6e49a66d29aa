"""The read API, /api/v1/, through the front door: shapes, filters, cursors,
bad input, privacy, caching, limits and its OpenAPI document."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.utils import timezone
from openapi_spec_validator import validate

from forum import limits, services
from forum.models import Post, PostStatus, StanceTally

from .factories import edit_post, make_post, make_user, stance

API = "/api/v1"


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.STANDPOINT_EXPORT_ROOT = tmp_path / "exports"


def posts_url(topic, **query):
    from urllib.parse import urlencode

    suffix = f"?{urlencode(query)}" if query else ""
    return f"{API}/topics/{topic.slug}/posts{suffix}"


def walk(client, url):
    """Every record a paged listing gives, following `next` to the end."""
    records = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        records += page["results"]
        url = page["next"]
    return records


def thread_ids(client, topic, **query):
    """The reply ids the thread page shows, over all its pages, for `query`."""
    ids, number = [], 1
    while True:
        response = client.get(topic.get_absolute_url(), {**query, "page": number})
        if response.status_code == 404:
            return ids
        found = [
            int(i)
            for i in re.findall(
                r'<article class="post[^"]*" id="p(\d+)"', response.content.decode()
            )
        ]
        if not found:
            return ids
        ids += found
        number += 1


@pytest.fixture
def debate(topic, moderator):
    """Replies of every kind: human, AI-generated, tied to a party, opposing,
    one hidden, one edited."""
    maker = make_user(username="maker-fan")
    replies = [
        make_post(topic=topic, body="Plain human reply."),
        make_post(
            topic=topic,
            author=maker,
            body="Written by a model.",
            authorship="ai_generated",
            ai_model="Claude",
            ai_maker="Anthropic",
            stances=[stance(topic, "opposes-ban-is-justified")],
            tags=["models"],
        ),
        make_post(
            topic=topic,
            body="Paid to say this.",
            paid="yes",
            paid_by="Someone",
            stances=[stance(topic, "opposes-ban-endangers-defenders")],
        ),
        make_post(topic=topic, body="Soon hidden: secret words zebra."),
        make_post(topic=topic, body="Will be edited."),
    ]
    services.posts_set_status(
        posts=Post.objects.filter(pk=replies[3].pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Off topic",
    )
    edit_post(replies[4], body="Edited once.", reason="typo")
    return replies


def test_topics_list_their_article_disclosure_parties_positions_and_counts(
    client, debate, topic
):
    response = client.get(f"{API}/topics")
    assert response.status_code == 200
    (found,) = response.json()["results"]
    assert found["slug"] == topic.slug
    assert found["disclosure"]["authorship"] == "human"
    assert found["replies"] == 4 and found["hidden_replies"] == 1
    assert {p["slug"] for p in found["parties"]} == {"anthropic", "us-government"}
    tallied = {(t.position.slug, t.polarity): 0 for t in StanceTally.objects.all()}
    for tally in StanceTally.objects.select_related("position"):
        tallied[tally.position.slug, tally.polarity] += tally.count
    for position in found["positions"]:
        for side in ("supports", "opposes"):
            assert position[side]["replies"] == tallied.get((position["slug"], side), 0)
    assert found["posts_url"] == f"{API}/topics/{topic.slug}/posts"


def test_posts_come_in_thread_order_with_the_threads_tombstones(client, debate, topic):
    records = walk(client, posts_url(topic, limit=2))
    assert [r["id"] for r in records] == [p.pk for p in debate]
    assert [r["number"] for r in records] == [1, 2, 3, 4, 5]
    hidden = records[3]
    assert hidden["hidden"] is True and hidden["hidden_reason"] == "Off topic"
    assert hidden["body"] is None and hidden["author"] is None
    assert hidden["disclosure"] is None and hidden["stances"] == []
    ai = records[1]
    assert ai["disclosure"]["authorship"] == "ai_generated"
    assert ai["disclosure"]["ai_maker_is_party"] is True
    assert ai["disclosure"]["ai_maker_party"] == "Anthropic"
    assert ai["stances"] == [
        {
            "stance": "opposes-ban-is-justified",
            "position": "ban-is-justified",
            "polarity": "opposes",
        }
    ]
    assert ai["tags"] == ["models"]
    assert records[4]["edit_count"] == 1 and records[4]["body"] == "Edited once."
    assert records[0]["edit_count"] == 0
    assert records[0]["body_html"] == "<p>Plain human reply.</p>\n"


@pytest.mark.parametrize(
    "query",
    [
        {"stance": "opposes-ban-is-justified"},
        {"written": "human"},
        {"written": "not_ai_generated"},
        {"written": "ai_generated"},
        {"ties": "none"},
        {"ties": "declared"},
        {"ties": "party"},
        {"authorship": "ai_generated"},
        {"order": "newest"},
        {"order": "newest", "written": "human"},
    ],
)
def test_filters_mean_what_they_mean_on_the_thread_page(client, debate, topic, query):
    records = walk(client, posts_url(topic, limit=1, **query))
    assert [r["id"] for r in records] == thread_ids(client, topic, **query)
    # Filtered: published replies, from the stored tallies; unfiltered: every
    # reply, tombstones included, as the thread pages them.
    assert client.get(posts_url(topic, **query)).json()["count"] == len(records)


def test_a_cursor_stays_put_while_replies_are_added(client, topic):
    first = [make_post(topic=topic, body=f"Reply {n}") for n in range(5)]
    page = client.get(posts_url(topic, limit=2)).json()
    newest = client.get(posts_url(topic, limit=2, order="newest")).json()
    later = [make_post(topic=topic, body=f"Later {n}") for n in range(3)]
    rest = walk(client, page["next"])
    assert [r["id"] for r in page["results"] + rest] == [p.pk for p in first + later]
    older = walk(client, newest["next"])
    assert [r["id"] for r in newest["results"] + older] == [
        p.pk for p in reversed(first)
    ]


def test_bad_input_is_a_json_400_naming_the_parameter(
    client, debate, topic, other_topic, settings
):
    page = client.get(posts_url(topic, limit=1)).json()
    cursor = page["next_cursor"]
    other = make_post(topic=other_topic, stances=[stance(other_topic)])
    make_post(topic=other_topic, stances=[stance(other_topic)])
    foreign = client.get(posts_url(other_topic, limit=1)).json()["next_cursor"]
    assert other
    cases = {
        "limit": [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"limit": ""}],
        "cursor": [
            {"cursor": cursor[:-2]},
            {"cursor": cursor.replace(cursor[3], "A" if cursor[3] != "A" else "B", 1)},
            {"cursor": "not a cursor"},
            {"cursor": foreign},
            {"cursor": cursor, "order": "newest"},
        ],
        "stance": [
            {"stance": "no-such-stance"},
            {"stance": "supports-export-rules-work"},
        ],
        "written": [{"written": "robots"}],
        "ties": [{"ties": "some"}],
        "authorship": [{"authorship": "ghost"}],
        "order": [{"order": "sideways"}],
        "colour": [{"colour": "red"}],
    }
    for parameter, queries in cases.items():
        for query in queries:
            response = client.get(posts_url(topic, **query))
            assert response.status_code == 400, (query, response.content)
            assert response["Content-Type"].startswith("application/json")
            body = response.json()
            assert body["errors"][0]["parameter"] == parameter, body
            assert parameter in body["detail"]


def test_an_expired_cursor_is_a_400(client, debate, topic, settings):
    settings.STANDPOINT_API_CURSOR_SECONDS = -7200
    cursor = client.get(posts_url(topic, limit=1)).json()["next_cursor"]
    response = client.get(posts_url(topic, limit=1, cursor=cursor))
    assert response.status_code == 400
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/topics/no-such-topic/posts",
        "/posts/999999",
        "/posts/99999999999999999999999",
        "/posts/abc",
        "/no-such-endpoint",
        "/topics/",
    ],
)
def test_unknown_things_are_json_404s(client, debate, path):
    response = client.get(API + path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_writes_are_refused_in_json(client, debate, topic):
    for method in (client.post, client.put, client.delete):
        response = method(posts_url(topic))
        assert response.status_code == 405
        assert response.json()["detail"]


def test_one_reply_with_its_moderation_and_links(client, debate, moderator):
    ai = debate[1]
    services.posts_review(
        posts=Post.objects.filter(pk=ai.pk),
        state="verified",
        actor=moderator,
        note="Checked with the author",
    )
    response = client.get(f"{API}/posts/{ai.pk}")
    assert response.status_code == 200
    record = response.json()
    assert record["disclosure"]["review"]["state"] == "verified"
    assert record["disclosure"]["review"]["note"] == "Checked with the author"
    assert record["history_url"] == f"/p/{ai.pk}/history/"
    assert record["disclosure_url"] == f"/p/{ai.pk}/disclosure.json"
    assert [m["action"] for m in record["moderation"]] == ["verify_disclosure"]
    assert record["moderation"][0]["actor"] == "moderator"  # names stay private
    hidden = client.get(f"{API}/posts/{debate[3].pk}").json()
    assert hidden["body"] is None
    assert [m["reason"] for m in hidden["moderation"]] == ["Off topic"]


def every_answer(client, topic, posts) -> str:
    urls = [
        f"{API}/topics",
        f"{API}/moderation",
        *(f"{API}/posts/{p.pk}" for p in posts),
    ]
    texts = [client.get(url).content.decode() for url in urls]
    texts += [str(r) for r in walk(client, posts_url(topic))]
    for name in ("posts.jsonl", "posts.csv"):
        response = client.get(f"/data/{topic.slug}/{name}")
        texts.append(
            b"".join(response.streaming_content).decode()
            if response.streaming
            else response.content.decode()
        )
    return "\n".join(texts)


def test_nothing_private_ever_appears_even_to_staff(
    client, debate, topic, moderator, settings
):
    moderator.username = "mod-alice"
    moderator.save()
    author = debate[0].author
    author.email = "private@example.org"
    author.save()
    edited = edit_post(debate[0], body="Now it says something else.", reason="rewrite")
    first = edited.revisions.get(number=1)
    services.revisions_redact(
        revisions=type(first).objects.filter(pk=first.pk),
        actor=moderator,
        reason="Personal data",
    )
    suspended = debate[2].author
    services.user_suspend(
        user=suspended,
        until=timezone.now() + timedelta(days=3),
        reason="Spam",
        actor=moderator,
    )
    client.force_login(moderator)  # staff rights never come from the API
    text = every_answer(client, topic, debate)
    assert "zebra" not in text  # the hidden reply's words
    assert "Plain human reply" not in text  # the redacted version's text
    assert "private@example.org" not in text
    assert '"actor": "moderator"' in text and moderator.username not in text
    log = client.get(f"{API}/moderation").json()["results"]
    suspension = [e for e in log if e["action"] == "suspend"][0]
    assert suspension["suspended_user"] == suspended.username
    assert suspension["reason"] == "Spam"
    settings.STANDPOINT_LOG_SHOWS_MODERATORS = True
    cache.clear()
    assert moderator.username in client.get(f"{API}/moderation").content.decode()


def test_answers_carry_etag_and_last_modified_and_answer_304(client, debate, topic):
    url = posts_url(topic)
    first = client.get(url)
    assert first["ETag"] and first["Last-Modified"]
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    since = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    make_post(topic=topic, body="A new reply changes the version.")
    changed = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed.json()["count"] == first.json()["count"] + 1
    for path in (
        "/topics",
        f"/posts/{debate[0].pk}",
        "/moderation",
        "/openapi.json",
        "/docs",
    ):
        response = client.get(API + path)
        assert response["ETag"] and response["Last-Modified"], path
        assert (
            client.get(API + path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code
            == 304
        )


def test_limited_per_client_address_with_a_json_429(client, debate, settings):
    settings.STANDPOINT_RATE_LIMITS = {**settings.STANDPOINT_RATE_LIMITS, "api": "3/m"}
    for _ in range(3):
        assert client.get(f"{API}/topics").status_code == 200
    refused = client.get(f"{API}/topics")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "try again" in refused.json()["detail"]
    other = client.get(f"{API}/topics", REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200


def test_openapi_document_is_valid_and_lists_every_endpoint(client, db):
    document = client.get(f"{API}/openapi.json").json()
    validate(document)
    assert set(document["paths"]) == {
        f"{API}/topics",
        f"{API}/topics/{{slug}}/posts",
        f"{API}/topics/{{slug}}/replies",
        f"{API}/agent",
        f"{API}/posts/{{post_id}}",
        f"{API}/moderation",
    }
    parameters = {
        p["name"]
        for p in document["paths"][f"{API}/topics/{{slug}}/posts"]["get"]["parameters"]
    }
    assert {
        "cursor",
        "limit",
        "stance",
        "written",
        "ties",
        "authorship",
        "order",
    } <= parameters


class Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inline, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if "src" in attrs:
                self.sources.append(attrs["src"])
            elif attrs.get("type") != "application/json":
                self.inline.append(attrs)
        assert not any(name.startswith("on") for name in attrs), attrs


def test_docs_page_runs_no_inline_script_under_the_sites_policy(client, db):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    parser = Scripts()
    parser.feed(response.content.decode())
    assert parser.inline == []
    assert parser.sources and all(src.startswith("/static/") for src in parser.sources)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    for src in parser.sources:
        assert client.get(src).status_code == 200


@pytest.mark.parametrize("size", [5, 120])
def test_an_api_page_costs_the_same_queries_at_any_size(
    client, topic, size, django_assert_max_num_queries, monkeypatch
):
    """Six queries a page: the per-address count, the topic's version, the
    page's rows, their stances, keywords and declared parties. The topic's row
    and parties are read once per topic version (two more), then kept; a
    filter adds its stored count."""
    # The limits' occasional sweep of closed windows is housekeeping, not a
    # page's cost: left out here.
    monkeypatch.setattr(limits, "SWEEP_ONE_IN", 10**12)
    author = make_user()
    for n in range(size):
        make_post(topic=topic, author=author, body=f"Reply {n}", tags=["a", "b"])
    queries = (
        {"limit": 100},
        {"limit": 3},
        {"limit": 3, "order": "newest"},
        {"limit": 3, "written": "human"},
    )
    for query in queries:
        cache.clear()
        filtered = "written" in query
        with django_assert_max_num_queries(8 + filtered):  # the version's first
            response = client.get(posts_url(topic, **query))
        assert response.status_code == 200
        cursor = response.json()["next_cursor"]
        if cursor:
            with django_assert_max_num_queries(6 + filtered):
                following = client.get(posts_url(topic, cursor=cursor, **query))
            assert following.status_code == 200
            assert len(following.json()["results"]) == min(
                query["limit"], size - query["limit"]
            )
    cache.clear()
    with django_assert_max_num_queries(7):  # however many topics
        assert client.get(f"{API}/topics").status_code == 200
    last = Post.objects.last().pk
    cache.clear()
    with django_assert_max_num_queries(9):
        assert client.get(f"{API}/posts/{last}").status_code == 200


def test_answers_are_what_the_openapi_document_says(client, debate, topic):
    """Answers are built as plain data; the schemas the document is made
    from must describe them exactly: every field, no field more."""
    from pydantic import BaseModel

    from forum import api

    def check(model: type[BaseModel], data):
        model.model_validate(data)
        if isinstance(data, dict):
            assert set(data) == set(model.model_fields), model.__name__
            for name, field in model.model_fields.items():
                inner = field.annotation
                for candidate in getattr(inner, "__args__", (inner,)):
                    if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                        if isinstance(data[name], dict):
                            check(candidate, data[name])
                        elif isinstance(data[name], list):
                            for item in data[name]:
                                check(candidate, item)

    check(api.TopicList, client.get(f"{API}/topics").json())
    check(api.PostPage, client.get(posts_url(topic, limit=5)).json())
    for reply in debate:
        check(api.PostDetail, client.get(f"{API}/posts/{reply.pk}").json())
    check(api.ModerationPage, client.get(f"{API}/moderation").json())
