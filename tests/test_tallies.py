"""Stored tallies: after every kind of write they equal a recount from scratch.

The stance map and the topic list read them instead of counting (issue 14), so a
write that forgot to move a reply between segments would show a wrong map
forever; each test here makes one kind of write and recounts.
"""

import itertools
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from forum import services
from forum.forms import ThreadFilterForm
from forum.models import (
    Authorship,
    Party,
    Post,
    PostStatus,
    ReplyTally,
    ReportReason,
    Stance,
    StanceTally,
    Ties,
    Topic,
    Written,
    tallied_count,
)

from .factories import (
    disclosure,
    edit_post,
    make_post,
    make_topic,
    make_user,
    stance,
)
from .test_stancemap import (
    AI_GENERATED,
    AI_POLISHED,
    OPP_E,
    OPP_J,
    PAID,
    SUP_E,
    SUP_J,
    party_tie,
)

pytestmark = pytest.mark.django_db


def assert_tallies_match_a_recount(*topics):
    """Nothing drifted; and the stored rows say something (not an empty match)."""
    ids = [topic.pk for topic in topics] or None
    assert services.tallies_recount(topic_ids=ids, fix=False) == []


def tallies(topic) -> dict[tuple, int]:
    return {
        (t.position.slug, t.polarity, t.authorship, t.ties): t.count
        for t in StanceTally.objects.filter(topic=topic, count__gt=0).select_related(
            "position"
        )
    }


def reply_tallies(topic) -> dict[tuple, int]:
    return {
        (t.authorship, t.ties): t.count
        for t in ReplyTally.objects.filter(topic=topic, count__gt=0)
    }


@pytest.fixture
def replies(topic):
    """Replies in several segments, one naming a party."""
    return [
        make_post(topic=topic, stances=[stance(topic, SUP_E)]),
        make_post(
            topic=topic,
            stances=[stance(topic, SUP_E), stance(topic, OPP_J)],
            **AI_GENERATED,
        ),
        make_post(topic=topic, stances=[stance(topic, OPP_E)], **AI_POLISHED, **PAID),
        make_post(
            topic=topic, stances=[stance(topic, SUP_J)], **party_tie(topic, "anthropic")
        ),
    ]


def hide(posts, actor=None, reason="Spam."):
    return services.posts_set_status(
        posts=Post.objects.filter(pk__in=[p.pk for p in posts]),
        status=PostStatus.HIDDEN,
        actor=actor,
        reason=reason,
    )


def restore(posts, actor):
    return services.posts_set_status(
        posts=Post.objects.filter(pk__in=[p.pk for p in posts]),
        status=PostStatus.PUBLISHED,
        actor=actor,
        reason="Not spam after all.",
    )


def test_creating_replies_adds_each_to_its_segments(topic, replies):
    assert tallies(topic) == {
        ("ban-endangers-defenders", "supports", "human", "none"): 1,
        ("ban-endangers-defenders", "supports", "ai_generated", "none"): 1,
        ("ban-is-justified", "opposes", "ai_generated", "none"): 1,
        ("ban-endangers-defenders", "opposes", "ai_polished", "declared"): 1,
        ("ban-is-justified", "supports", "human", "party"): 1,
    }
    # Each reply once per topic, whatever its stances: the filters without one.
    assert reply_tallies(topic) == {
        ("human", "none"): 1,
        ("ai_generated", "none"): 1,
        ("ai_polished", "declared"): 1,
        ("human", "party"): 1,
    }
    assert Topic.objects.get(pk=topic.pk).reply_count == 4
    assert_tallies_match_a_recount(topic)


def test_hiding_and_restoring_move_replies_out_and_back(topic, replies, moderator):
    before = tallies(topic)

    hide(replies[:2], actor=moderator)
    assert ("ban-endangers-defenders", "supports", "human", "none") not in tallies(
        topic
    )
    stored = Topic.objects.get(pk=topic.pk)
    assert (stored.reply_count, stored.hidden_count) == (2, 2)
    assert_tallies_match_a_recount(topic)

    restore(replies[:2], moderator)
    assert tallies(topic) == before
    assert_tallies_match_a_recount(topic)


def test_hiding_twice_or_a_hidden_post_changes_nothing(topic, replies, moderator):
    hide(replies[:1], actor=moderator)
    hidden = tallies(topic)
    hide(replies[:1], actor=moderator, reason="Still spam.")
    assert tallies(topic) == hidden
    assert Topic.objects.get(pk=topic.pk).hidden_count == 1
    assert_tallies_match_a_recount(topic)


def test_reports_over_the_threshold_hide_and_untally(topic, replies, settings):
    settings.STANDPOINT_REPORT_THRESHOLD = 2
    for _ in range(2):
        services.report_create(
            post=replies[0], reporter=make_user(), reason=ReportReason.SPAM
        )
    assert Post.objects.get(pk=replies[0].pk).status == PostStatus.HIDDEN
    assert ("ban-endangers-defenders", "supports", "human", "none") not in tallies(
        topic
    )
    assert_tallies_match_a_recount(topic)


@pytest.mark.parametrize(
    "changes",
    [
        {"stances": [OPP_J]},
        {"stances": [OPP_E, SUP_J]},
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"},
        {"paid": "yes", "paid_by": "A lobby"},
        {
            "conflict": "declared",
            "conflict_details": "I advise them.",
            "parties": ["anthropic"],
        },
        {"body": "Only the words change; no segment moves."},
    ],
    ids=["stances", "more-stances", "authorship", "paid", "party-tie", "text-only"],
)
def test_an_authors_edit_moves_the_reply_between_segments(topic, replies, changes):
    changes = dict(changes)
    if "stances" in changes:
        changes["stances"] = [stance(topic, slug) for slug in changes["stances"]]
    if "parties" in changes:
        changes["conflict_parties"] = list(
            Party.objects.filter(topic=topic, slug__in=changes.pop("parties"))
        )
    edit_post(replies[0], **changes)
    assert_tallies_match_a_recount(topic)


def test_removing_a_party_tie_by_edit_moves_the_reply_back(topic, replies):
    edit_post(
        replies[3],
        conflict="none",
        conflict_details="",
        conflict_parties=[],
        reason="I no longer advise them.",
    )
    assert tallies(topic)[("ban-is-justified", "supports", "human", "none")] == 1
    assert_tallies_match_a_recount(topic)


def test_a_moderators_relabel_moves_the_reply(topic, replies, moderator):
    edit_post(
        replies[0],
        editor=moderator,
        reason="The text is a model's.",
        authorship="ai_generated",
        ai_model="GPT-4o",
        ai_maker="OpenAI",
    )
    assert (
        tallies(topic)[("ban-endangers-defenders", "supports", "ai_generated", "none")]
        == 2
    )
    assert_tallies_match_a_recount(topic)


def test_a_moderators_edit_of_a_hidden_reply_keeps_it_out(topic, replies, moderator):
    hide(replies[:1], actor=moderator)
    edit_post(
        replies[0],
        editor=moderator,
        reason="Fixing stances.",
        stances=[stance(topic, OPP_J)],
    )
    assert ("ban-is-justified", "opposes", "human", "none") not in tallies(topic)
    assert_tallies_match_a_recount(topic)


def test_reviews_proposals_and_topic_parts_keep_the_tallies(topic, replies, moderator):
    services.posts_review(
        posts=Post.objects.filter(pk=replies[1].pk),
        state="verified",
        actor=moderator,
        note="Checked with the author.",
    )
    proposal = services.position_propose(
        topic=topic,
        author=replies[0].author,
        claim="Defenders need a licence route",
        disclosure=disclosure(),
        attested=True,
    )
    services.proposals_decide(
        proposals=type(proposal).objects.filter(pk=proposal.pk),
        approve=True,
        actor=moderator,
        reason="A claim the thread makes.",
    )
    justified = topic.positions.get(slug="ban-is-justified")
    justified.claim = "The ban is justified for now"
    services.topic_save_parts(
        topic=topic,
        saved=[justified, Party(name="NIST", slug="nist")],
        deleted=[],
    )
    new = topic.positions.get(claim="Defenders need a licence route")
    make_post(topic=topic, stances=[stance(topic, f"supports-{new.slug}")])
    assert new.support_count == 1
    assert_tallies_match_a_recount(topic)


def test_topics_are_counted_apart(topic, other_topic, replies):
    make_post(topic=other_topic, stances=[stance(other_topic)])
    assert sum(tallies(other_topic).values()) == 1
    assert_tallies_match_a_recount(topic, other_topic)


def test_command_check_passes_then_reports_drift_and_fixes_it(topic, replies, capsys):
    call_command("tallies", "--check")
    assert "Every tally matches" in capsys.readouterr().out

    # Written around the services: what the command exists to catch.
    StanceTally.objects.filter(topic=topic).update(count=7)
    Topic.objects.filter(pk=topic.pk).update(reply_count=40)
    with pytest.raises(CommandError, match="counts have drifted"):
        call_command("tallies", "--check")
    out = capsys.readouterr().out
    assert "replies stored 40, counted 4" in out
    assert "stored 7, counted 1" in out

    call_command("tallies", topic.slug)
    assert "Fixed" in capsys.readouterr().out
    call_command("tallies", "--check")
    assert Topic.objects.get(pk=topic.pk).reply_count == 4


def test_command_refuses_an_unknown_slug():
    with pytest.raises(CommandError, match="No topic with slug nope"):
        call_command("tallies", "nope", "--check")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgres")
def test_concurrent_writers_on_postgresql_keep_the_tallies_exact():
    """Posting, editing, hiding and restoring at once, in six threads, each on its
    own connection: the differences add up to a recount."""
    topic = make_topic()
    moderator = make_user(is_staff=True)
    authors = [make_user() for _ in range(4)]
    seeded = [
        make_post(
            topic=topic,
            author=authors[i % 4],
            stances=[stance(topic, SUP_E)],
            body=f"Seed {i}.",
        )
        for i in range(8)
    ]
    errors, start = [], threading.Barrier(6)

    def work(job):
        try:
            start.wait()
            job()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    def poster(author, n):
        def job():
            for i in range(5):
                make_post(
                    topic=topic,
                    author=author,
                    stances=[stance(topic, OPP_J if i % 2 else SUP_J)],
                    body=f"Concurrent {n}.{i}.",
                    **(AI_GENERATED if i % 2 else {}),
                )

        return job

    def hider():
        for post in seeded[:4]:
            hide([post], actor=moderator)
        restore(seeded[:2], moderator)

    def editor():
        for post in seeded[4:]:
            edit_post(post, stances=[stance(topic, OPP_E)], **PAID)

    jobs = [poster(authors[i], i) for i in range(4)] + [hider, editor]
    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert Post.objects.filter(topic=topic).count() == 8 + 4 * 5
    # Numbered in their thread under the topic's lock: no gap, no twin.
    numbers = Post.objects.filter(topic=topic).order_by("number")
    assert list(numbers.values_list("number", flat=True)) == list(range(1, 29))
    assert_tallies_match_a_recount(topic)
    stored = Topic.objects.get(pk=topic.pk)
    assert (stored.reply_count, stored.hidden_count) == (8 + 4 * 5 - 2, 2)


def test_every_filtered_view_is_counted_from_the_tallies(topic, replies, moderator):
    """The thread page counts a filtered view from stored rows: for every
    combination of the reader filters, that sum is what counting gives."""
    make_post(topic=topic, **AI_GENERATED, **PAID)  # no stance at all
    make_post(
        topic=topic,
        stances=[stance(topic, OPP_J)],
        **{**AI_POLISHED, "authorship": "ai_assisted"},
    )
    hide(replies[3:], actor=moderator)  # hidden replies are in no filtered view
    choices = {
        "stance": [
            "",
            *Stance.objects.filter(position__topic=topic).values_list(
                "slug", flat=True
            ),
        ],
        "authorship": ["", *Authorship.values],
        "written": ["", ThreadFilterForm.NOT_AI_GENERATED, *Written.values],
        "ties": ["", *Ties.values],
    }
    checked = 0
    for combo in itertools.product(*choices.values()):
        form = ThreadFilterForm(dict(zip(choices, combo, strict=True)), topic=topic)
        assert form.is_valid(), form.errors
        counted = form.filter(topic.posts.published()).count()
        assert tallied_count(topic, **form.segments()) == counted, combo
        checked += counted > 0
    assert checked > 50  # most views hold replies: not a match of zeros
