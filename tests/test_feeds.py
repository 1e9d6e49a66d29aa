"""Atom feeds through the front door, parsed by feedparser: stances and
disclosures read back, hidden replies left out, filters, 304s, bad input."""

from datetime import datetime

import feedparser
import pytest
from django.core.cache import cache

from forum import services
from forum.models import Post, PostStatus

from .factories import edit_post, make_post, make_user, stance


def parse(client, url, **query):
    response = client.get(url, query)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed, response


@pytest.fixture
def thread(topic, moderator):
    posts = {
        "human": make_post(topic=topic, body="A human reply."),
        "ai": make_post(
            topic=topic,
            body="A generated reply.",
            authorship="ai_generated",
            ai_model="Claude",
            ai_maker="Anthropic",
            stances=[stance(topic, "opposes-ban-is-justified")],
        ),
        "hidden": make_post(topic=topic, body="Hidden gnu words."),
    }
    services.posts_set_status(
        posts=Post.objects.filter(pk=posts["hidden"].pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam",
    )
    return posts


def test_a_topic_feed_carries_stances_and_disclosures(client, thread, topic):
    feed, _ = parse(client, f"/t/{topic.slug}/feed.atom")
    assert feed.version == "atom10"
    assert "Disclosure: Human-written" in feed.feed.subtitle  # the article's
    assert feed.feed["sp_authorship"] == "human"
    ids = [entry.link.rsplit("/", 2)[-2] for entry in feed.entries]
    assert ids == [
        str(thread["ai"].pk),
        str(thread["human"].pk),
    ]  # newest first, no hidden
    ai = feed.entries[0]
    assert [tag.term for tag in ai.tags] == ["opposes-ban-is-justified"]
    assert ai.tags[0].label == "Opposes: The ban is justified"
    assert ai.tags[0].scheme.endswith(f"/t/{topic.slug}/#positions-title")
    assert ai["sp_authorship"] == "ai_generated"
    assert ai["sp_ai_model"] == "Claude" and ai["sp_ai_maker"] == "Anthropic"
    assert ai["sp_ai_maker_is_party"] == "true"
    assert ai["sp_review_state"] == "self_declared"
    assert "AI-generated with Claude (Anthropic)" in ai.summary
    assert "Anthropic is a party to this debate" in ai.summary
    described = [link for link in ai.links if link.rel == "describedby"]
    assert described[0].href.endswith(f"/p/{thread['ai'].pk}/disclosure.json")
    assert "gnu" not in str(feed)


def test_a_topic_feed_takes_the_threads_filters(client, thread, topic):
    feed, _ = parse(
        client,
        f"/t/{topic.slug}/feed.atom",
        written="ai_generated",
        stance="opposes-ban-is-justified",
    )
    assert [e["sp_authorship"] for e in feed.entries] == ["ai_generated"]
    feed, _ = parse(client, f"/t/{topic.slug}/feed.atom", written="human")
    assert {e["sp_authorship"] for e in feed.entries} == {"human"}


def test_bad_filters_and_unknown_topics(client, thread, topic):
    response = client.get(f"/t/{topic.slug}/feed.atom", {"stance": "nope"})
    assert response.status_code == 400
    assert "stance" in response.content.decode()
    assert client.get(f"/t/{topic.slug}/feed.atom", {"x": "1"}).status_code == 400
    assert client.get("/t/no-such-topic/feed.atom").status_code == 404


def test_edits_update_and_the_latest_feed_spans_topics(
    client, thread, topic, other_topic
):
    elsewhere = make_post(topic=other_topic, stances=[stance(other_topic)])
    edit_post(thread["human"], body="Edited human reply.", reason="typo")
    feed, _ = parse(client, "/feeds/latest.atom")
    links = [entry.link for entry in feed.entries]
    assert links[0].endswith(f"/p/{elsewhere.pk}/")
    human = [e for e in feed.entries if e.link.endswith(f"/p/{thread['human'].pk}/")][0]
    assert datetime.fromisoformat(human.updated) > datetime.fromisoformat(
        human.published
    )
    assert "gnu" not in str(feed)


def test_the_moderation_feed_lists_the_public_log(client, thread, moderator):
    moderator.username = "mod-jo"
    moderator.save()
    feed, _ = parse(client, "/moderation/feed.atom")
    assert feed.entries[0].title == "A moderator hid a post"
    assert "Spam" in feed.entries[0].summary
    assert moderator.username not in str(feed)


def test_feeds_answer_304_and_change_with_the_topic(client, thread, topic):
    url = f"/t/{topic.slug}/feed.atom"
    first = client.get(url)
    assert first["ETag"] and first["Last-Modified"]
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    make_post(topic=topic, body="Newer still.")
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_pages_link_their_feeds(client, thread, topic):
    autodiscovery = 'rel="alternate" type="application/atom+xml"'
    assert autodiscovery in client.get("/").content.decode()
    assert autodiscovery in client.get("/moderation/").content.decode()
    page = client.get(
        topic.get_absolute_url(), {"written": "human", "page": "1"}
    ).content.decode()
    assert f'href="/t/{topic.slug}/feed.atom?written=human"' in page


@pytest.mark.parametrize("size", [3, 80])
def test_a_feed_costs_the_same_queries_at_any_length(
    client, topic, size, django_assert_max_num_queries
):
    author = make_user()
    for n in range(size):
        make_post(
            topic=topic, author=author, body=f"Reply {n}", stances=[stance(topic)]
        )
    for url in (
        f"/t/{topic.slug}/feed.atom",
        "/feeds/latest.atom",
        "/moderation/feed.atom",
    ):
        cache.clear()
        with django_assert_max_num_queries(9):
            assert (
                client.get(
                    url, {"written": "human"} if "/t/" in url else {}
                ).status_code
                == 200
            )
