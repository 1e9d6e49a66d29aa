"""A reply's ready piece: rendered once per version of the reply, joined into pages.

Issue 14: a thread page that misses the page cache (another page, another
filter) must not prefetch and render replies it has rendered before, and a
piece must never outlive what it shows.
"""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from forum import services
from forum.models import Party, Post, PostStatus, ReplyPiece, Topic
from forum.pieces import reply_pieces

from .factories import edit_post, make_post, make_user, stance
from .pages import page, squash
from .test_queries import THREAD_QUERIES_ANONYMOUS, add_replies

pytestmark = pytest.mark.django_db

# Tables a known reply's piece spares: stances, keyword tags, conflict parties.
PREFETCHED = ("forum_poststance", "forum_postkeyword", "forum_post_conflict_parties")


def piece(post, *, staff=False) -> str:
    topic = Topic.objects.prefetch_related(*Topic.thread_prefetch()).get(
        pk=post.topic_id
    )
    [(html, _)] = reply_pieces(topic, [post.pk], staff=staff)
    return squash(html)


@pytest.fixture
def reply(topic):
    return make_post(
        topic=topic,
        body="Defenders need these models.",
        stances=[stance(topic, "supports-ban-endangers-defenders")],
        tags=["exploits"],
    )


def test_a_known_reply_is_joined_without_prefetching_or_rendering_it(
    topic, django_assert_max_num_queries
):
    authors = [make_user() for _ in range(3)]
    add_replies(topic, 12, authors)
    client = Client()
    client.get(f"/t/{topic.slug}/")  # renders every reply's piece

    # Another page of the cache (newest first): the same replies, ready.
    with django_assert_max_num_queries(THREAD_QUERIES_ANONYMOUS) as ctx:
        response = client.get(f"/t/{topic.slug}/?order=newest")
    assert response.status_code == 200
    sql = " ".join(query["sql"] for query in ctx.captured_queries)
    assert not any(table in sql for table in PREFETCHED), sql
    assert len(ctx) <= THREAD_QUERIES_ANONYMOUS - 4
    # What the reader gets is what a fresh render gives.
    cache.clear()
    assert page(client.get(f"/t/{topic.slug}/?order=newest")) == page(response)


def test_an_edit_gives_the_reply_a_new_piece(topic, reply):
    before = piece(reply)
    edit_post(
        reply,
        body="Defenders need these models, and soon.",
        stances=[stance(topic, "opposes-ban-is-justified")],
        tags=["exploits", "licensing"],
    )
    after = piece(reply)
    assert after != before
    assert "and soon." in after
    assert "Opposes: The ban is justified" in after
    assert "licensing" in after


def test_a_review_gives_the_reply_a_new_piece(reply, moderator):
    before = piece(reply)
    services.posts_review(
        posts=Post.objects.filter(pk=reply.pk),
        state="verified",
        actor=moderator,
        note="Checked with the author.",
    )
    assert piece(reply) != before
    assert "Verified" in piece(reply)


def test_hiding_and_restoring_change_the_piece_for_readers_not_staff_rules(
    reply, moderator
):
    services.posts_set_status(
        posts=Post.objects.filter(pk=reply.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam.",
    )
    tombstone = piece(reply)
    assert "Hidden by moderators: Spam." in tombstone
    assert "Defenders need these models." not in tombstone
    # Staff get their own piece with the text, never the readers'.
    assert "Defenders need these models." in piece(reply, staff=True)
    services.posts_set_status(
        posts=Post.objects.filter(pk=reply.pk),
        status=PostStatus.PUBLISHED,
        actor=moderator,
        reason="Not spam.",
    )
    assert "Defenders need these models." in piece(reply)


def test_a_renamed_author_gets_a_new_piece(reply):
    assert reply.author.username in piece(reply)
    reply.author.username = "renamed-reader"
    reply.author.save()
    assert "renamed-reader" in piece(reply)


def test_a_relabelled_position_or_renamed_party_gets_new_pieces(topic, reply):
    position = topic.positions.get(slug="ban-endangers-defenders")
    position.claim = "The ban leaves defenders behind"
    services.topic_save_parts(topic=topic, saved=[position], deleted=[])
    assert "Supports: The ban leaves defenders behind" in piece(reply)

    tied = make_post(
        topic=topic,
        conflict="declared",
        conflict_parties=list(topic.parties.filter(slug="anthropic")),
        conflict_details="I advise them.",
        body="A tied reply.",
    )
    party = Party.objects.get(topic=topic, slug="anthropic")
    party.name = "Anthropic PBC"
    services.topic_save_parts(topic=topic, saved=[party], deleted=[])
    assert "Anthropic PBC" in piece(tied)


def test_nothing_stale_is_served_after_a_moderator_hides_a_reply(
    topic, reply, moderator
):
    client = Client()
    for url in (f"/t/{topic.slug}/", f"/t/{topic.slug}/?order=newest"):
        assert "Defenders need these models." in page(client.get(url))
    services.posts_set_status(
        posts=Post.objects.filter(pk=reply.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Off topic.",
    )
    for url in (f"/t/{topic.slug}/", f"/t/{topic.slug}/?order=newest"):
        text = page(client.get(url))
        assert "Defenders need these models." not in text
        assert "Hidden by moderators: Off topic." in text


def test_the_pieces_command_makes_the_missing_and_stale_ones_once(topic):
    posts = [make_post(topic=topic) for _ in range(3)]
    ReplyPiece.objects.filter(post=posts[0]).delete()
    ReplyPiece.objects.filter(post=posts[1]).update(version="stale")

    call_command("pieces", topic.slug, stdout=StringIO())
    made = dict(ReplyPiece.objects.values_list("post_id", "version"))
    out = StringIO()
    call_command("pieces", stdout=out)

    assert set(made) == {post.pk for post in posts}
    assert "stale" not in made.values()
    assert dict(ReplyPiece.objects.values_list("post_id", "version")) == made
    assert "3 replies' pieces current" in out.getvalue()
