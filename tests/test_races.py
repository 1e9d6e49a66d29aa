"""Races between requests, on PostgreSQL: row locks and deadlocks SQLite never shows.

Each test holds the first writer inside its transaction (a patched step sets
an event, then sleeps) and starts the second meanwhile, in threads with their
own connections on committed rows.
"""

import re
import threading
import time

import pytest
from django.db import connections
from pytest_django.asserts import assertRedirects

from forum import services
from forum.models import (
    ModerationAction,
    Position,
    PositionProposal,
    Post,
    PostStatus,
    ProposalStatus,
    Report,
    Topic,
)
from forum.services import moderation, tallies

from .factories import (
    disclosure,
    make_post,
    make_topic,
    make_user,
    stance,
)
from .pages import reply_data, reply_url, signed_in

# Row locks need PostgreSQL: skipped on SQLite, failed when STANDPOINT_REQUIRE_POSTGRES is set.
pytestmark = [
    pytest.mark.usefixtures("needs_postgres"),
    pytest.mark.django_db(transaction=True),
]

HOLD_SECONDS = 1.0


def make_staff():
    """A staff user; not the `moderator` fixture, whose group a flush removes."""
    return make_user(is_staff=True)


def run_while_held(first, second, held: threading.Event) -> tuple[dict, dict]:
    """Run `first`, then `second` once `first` has set `held`; (results, errors) by name."""
    results, errors = {}, {}

    def run(name, work):
        try:
            results[name] = work()
        except Exception as exc:  # the test asserts there were none
            errors[name] = exc
        finally:
            connections.close_all()

    def second_when_held():
        assert held.wait(10), "the first writer never got there"
        return second()

    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second_when_held)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a writer hangs"
    return results, errors


def hold_after(real, held: threading.Event):
    """`real`, then a pause with the transaction's locks held."""

    def held_call(*args, **kwargs):
        result = real(*args, **kwargs)
        held.set()
        time.sleep(HOLD_SECONDS)
        return result

    return held_call


def hold_before(real, held: threading.Event):
    """A pause with the transaction's locks held, then `real`."""

    def held_call(*args, **kwargs):
        held.set()
        time.sleep(HOLD_SECONDS)
        return real(*args, **kwargs)

    return held_call


def test_threshold_report_and_a_reply_to_the_same_post_both_go_through(
    monkeypatch, topic
):
    """The report locks the post, the reply the topic; each then needs the other's."""
    target = make_post(topic=topic, body="The reported post.")
    for _ in range(2):
        services.report_create(post=target, reporter=make_user(), reason="spam")
    third, replier = make_user(), make_user()
    held = threading.Event()
    # Runs once report_create has locked the post.
    monkeypatch.setattr(
        "forum.services.reports.validate_report",
        hold_before(services.validate_report, held),
    )

    results, errors = run_while_held(
        lambda: services.report_create(post=target, reporter=third, reason="spam"),
        lambda: services.post_create(
            topic=topic,
            author=replier,
            body="A reply to it.",
            parent=target,
            stances=[stance(topic)],
            attested=True,
            disclosure=disclosure(),
        ),
        held,
    )

    assert errors == {}
    target.refresh_from_db()
    assert target.status == PostStatus.HIDDEN
    assert Report.objects.filter(post=target).count() == 3
    reply = results["second"]
    assert (reply.parent_id, reply.status) == (target.pk, PostStatus.PUBLISHED)
    counts = Topic.objects.get(pk=topic.pk)
    assert (counts.reply_count, counts.hidden_count) == (1, 1)


def test_concurrent_approvals_of_claims_with_one_slug_get_distinct_slugs(
    monkeypatch, topic
):
    proposals = [
        services.position_propose(
            topic=topic,
            author=make_user(),
            claim=claim,
            attested=True,
            disclosure=disclosure(),
        )
        for claim in ("Export rules!", "Export rules?")
    ]
    moderator, other_moderator = make_staff(), make_staff()
    held = threading.Event()
    # Runs once the first approval has made its position.
    monkeypatch.setattr(
        "forum.services.proposals.position_sync_stances",
        hold_after(services.position_sync_stances, held),
    )

    def approve(proposal, actor):
        return lambda: services.proposals_decide(
            proposals=PositionProposal.objects.filter(pk=proposal.pk),
            approve=True,
            actor=actor,
            reason="Adds a side.",
        )

    results, errors = run_while_held(
        approve(proposals[0], moderator), approve(proposals[1], other_moderator), held
    )

    assert errors == {}
    assert results == {"first": 1, "second": 1}
    assert sorted(
        Position.objects.filter(
            topic=topic, claim__startswith="Export rules"
        ).values_list("claim", "slug")
    ) == [("Export rules!", "export-rules"), ("Export rules?", "export-rules-2")]
    assert set(PositionProposal.objects.values_list("status", flat=True)) == {
        ProposalStatus.APPROVED
    }


def test_two_moderators_hiding_one_post_at_once_log_one_hide(monkeypatch, topic):
    target = make_post(topic=topic, body="Buy cheap watches.")
    moderator, other_moderator = make_staff(), make_staff()
    held = threading.Event()
    # Runs once the first hide has changed the post, before it commits.
    monkeypatch.setattr(
        "forum.services.tallies.tallies_apply",
        hold_before(services.tallies_apply, held),
    )

    def hide(actor, reason):
        return lambda: services.posts_set_status(
            posts=Post.objects.filter(pk=target.pk),
            status=PostStatus.HIDDEN,
            actor=actor,
            reason=reason,
        )

    results, errors = run_while_held(
        hide(moderator, "Advertising."), hide(other_moderator, "Spam."), held
    )

    assert errors == {}
    assert results == {"first": 1, "second": 0}
    assert list(
        ModerationAction.objects.filter(post=target).values_list(
            "action", "actor", "reason"
        )
    ) == [("hide", moderator.pk, "Advertising.")]
    target.refresh_from_db()
    assert (target.status, target.hidden_reason) == (PostStatus.HIDDEN, "Advertising.")
    assert Topic.objects.get(pk=topic.pk).hidden_count == 1


def test_double_submit_arriving_while_the_first_is_stored_leads_to_one_post(
    monkeypatch, user
):
    """With the default 1/10s rate: the second click must find its twin, not a 429."""
    topic = make_topic()
    data = reply_data(body="Clicked twice.")
    clicks = [signed_in(user), signed_in(user)]
    for browser in clicks:
        browser.get(reply_url(topic))
    held = threading.Event()
    # Runs once the first reply is saved, under the topic's lock.
    monkeypatch.setattr(
        "forum.services.tallies.tallies_apply",
        hold_after(tallies.tallies_apply, held),
    )

    results, errors = run_while_held(
        lambda: clicks[0].post(reply_url(topic), data),
        lambda: clicks[1].post(reply_url(topic), data),
        held,
    )

    assert errors == {}
    post = Post.objects.get(author=user)
    for name in ("first", "second"):
        assertRedirects(results[name], f"/p/{post.pk}/", fetch_redirect_response=False)


def test_an_edit_waiting_on_a_dispute_sees_it_and_cannot_declare_less(
    monkeypatch, topic
):
    """The author's edit reads the review state under the post's lock, after the dispute."""
    author, staff = make_user(), make_staff()
    post = make_post(
        topic=topic,
        author=author,
        authorship="ai_generated",
        ai_model="Claude",
        ai_maker="Anthropic",
    )
    held = threading.Event()
    real_log = moderation.log

    def log_then_hold(*args):
        real_log(*args)
        held.set()
        time.sleep(HOLD_SECONDS)

    monkeypatch.setattr("forum.services.moderation.log", log_then_hold)

    results, errors = run_while_held(
        lambda: services.posts_review(
            posts=Post.objects.filter(pk=post.pk),
            state="disputed",
            actor=staff,
            note="The author said on a podcast that a model wrote it.",
        ),
        lambda: services.post_edit(
            post=post,
            editor=author,
            attested=True,
            reason="I wrote it myself.",
            body=post.body,
            stances=[stance(topic)],
            disclosure=disclosure(),
        ),
        held,
    )

    assert results == {"first": 1}
    assert errors["second"].code == "review_holds_disclosure"
    post.refresh_from_db()
    assert (post.review_state, post.authorship) == ("disputed", "ai_generated")
    assert not post.revisions.exists()


def test_two_edits_at_once_make_consecutive_revisions(monkeypatch, topic):
    """A double-submitted edit waits for the first: versions 1, 2, 3, each from the last."""
    author = make_user()
    post = make_post(topic=topic, author=author, body="First words.")
    held = threading.Event()
    # Runs once post_edit has locked the post.
    monkeypatch.setattr(
        "forum.services.editing.validate_keywords",
        hold_before(services.validate_keywords, held),
    )

    def edit(body):
        return lambda: services.post_edit(
            post=post,
            editor=author,
            attested=True,
            body=body,
            stances=[stance(topic)],
            disclosure=disclosure(),
        )

    results, errors = run_while_held(edit("Second words."), edit("Third words."), held)

    assert errors == {}
    versions = list(post.revisions.order_by("number").values_list("number", "body"))
    assert versions == [
        (1, "First words."),
        (2, "Second words."),
        (3, "Third words."),
    ]
    post.refresh_from_db()
    assert post.body == "Third words."


def test_two_mailings_at_once_carry_each_notification_once(monkeypatch, topic):
    """Two tasks mail one reader at once (two replies' fan-outs finishing
    together): the reader's settings row is locked while a mailing claims, so
    the second finds what the first left, and no notification goes twice."""
    from django.core import mail
    from django.utils import timezone

    from forum.models import MailSettings, Notification
    from forum.services import notifications

    reader, author = make_user(), make_user()
    MailSettings.objects.create(
        user=reader,
        email="reader@example.org",
        verified_at=timezone.now() - timezone.timedelta(days=1),
        replies="immediate",
    )
    mine = make_post(topic=topic, author=reader, body="Mine.")
    for n in range(3):
        answer = make_post(topic=topic, author=author, parent=mine, body=f"Answer {n}")
        Notification.objects.create(
            recipient=reader, kind="reply", key=f"post:{answer.pk}", post=answer
        )
    mail.outbox.clear()
    held = threading.Event()
    monkeypatch.setattr(
        MailSettings, "kinds_mailed", hold_after(MailSettings.kinds_mailed, held)
    )

    def send():
        return notifications.mail_pending(reader.pk, "immediate", timezone.now())

    results, errors = run_while_held(send, send, held)

    assert errors == {}
    assert sorted(results.values()) == [0, 1]
    (message,) = mail.outbox
    assert sorted(re.findall(r"Answer (\d)", message.body)) == ["0", "1", "2"]
    assert not Notification.objects.filter(recipient=reader, mailing=None).exists()


def test_a_fan_out_run_twice_at_once_tells_each_watcher_once(monkeypatch, topic):
    from forum.models import Notification, TopicReader
    from forum.services import notifications

    watchers = [make_user() for _ in range(5)]
    TopicReader.objects.bulk_create(
        TopicReader(user=w, topic=topic, level="watching") for w in watchers
    )
    reply = make_post(topic=topic, author=make_user(), body="Watched reply.")
    held = threading.Event()
    monkeypatch.setattr(
        "forum.services.notifications._store",
        hold_before(notifications._store, held),
    )

    results, errors = run_while_held(
        lambda: notifications.reply_published(reply.pk),
        lambda: notifications.reply_published(reply.pk),
        held,
    )

    assert errors == {}
    told = Notification.objects.filter(key=f"post:{reply.pk}")
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(
        w.pk for w in watchers
    )
