"""Issue 18 through the front door: watching, notifications, unread markers, mail.

Requests enqueue tasks when they commit; `deliver` captures those commits and
then runs the worker as `manage.py serve` does (`manage.py worker`, here in
batch mode), on the test database's real task queue.
"""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from forum import services
from forum.models import (
    MailSettings,
    Notification,
    Post,
    PostStatus,
    ReportStatus,
    ReviewState,
    TopicReader,
)
from forum.services import notifications

from .factories import make_post, make_user
from .pages import page, reply_data, reply_url
from .pages import signed_in as signed_in_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _worker_keeps_the_test_connection(monkeypatch):
    """The worker closes connections outside autocommit between tasks, as a
    long-running process should; a test's data lives in one open transaction."""
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections",
        lambda: None,
    )


@pytest.fixture(autouse=True)
def _posting_unthrottled(settings):
    """These tests post several replies a second; flood control has its own."""
    settings.STANDPOINT_RATE_LIMITS = {
        **settings.STANDPOINT_RATE_LIMITS,
        "post": "1000/s",
        "verify_mail": "1000/s",
    }


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """A context manager: what its block commits enqueues tasks, which the
    worker then runs."""

    @contextmanager
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            yield
        call_command("worker", batch=True, verbosity=0)

    return run


def post_reply(client, topic, **changes):
    response = client.post(reply_url(topic), reply_data(**changes))
    assert response.status_code == 302, page(response)[:2000]
    return Post.objects.latest("pk")


def signed_in(user):
    """A signed-in client holding the CSRF cookie its notifications page set."""
    client = signed_in_client(user)
    assert client.get("/notifications/").status_code == 200
    return client


# What an agent's replies declare, as its account says.
AS_AGENT = {"authorship": "ai_agent", "ai_model": "Claude", "ai_maker": "Anthropic"}


def make_agent(operator, name: str):
    from forum.services import agents

    return agents.agent_create(
        operator=operator,
        name=name,
        ai_model="Claude",
        ai_maker="Anthropic",
        statement="Takes part.",
    )


def watch(client, topic, level: str):
    """Choose a level as on the thread page, whose form it uses."""
    thread = page(client.get(f"/t/{topic.slug}/"))
    assert f'action="/t/{topic.slug}/watch/"' in thread
    return client.post(f"/t/{topic.slug}/watch/", {"level": level})


def kinds_of(user) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(recipient=user)
        .order_by("pk")
        .values_list("kind", "key")
    )


def listed(client) -> str:
    response = client.get("/notifications/")
    assert response.status_code == 200
    return page(response)


@pytest.fixture
def alice(db):
    return make_user(username="alice")


@pytest.fixture
def bob(db):
    return make_user(username="bob")


def test_a_reply_to_my_reply_notifies_me_and_links_to_it(topic, alice, bob, deliver):
    mine = make_post(topic=topic, author=alice)
    with deliver():
        answer = post_reply(signed_in(bob), topic, parent=str(mine.pk))
    assert kinds_of(alice) == [("reply", f"post:{answer.pk}")]
    client = signed_in(alice)
    shown = listed(client)
    assert "bob replied to you in" in shown
    assert "Defenders need" in shown  # the excerpt
    # The header counts it on every page, the shared thread page included.
    assert 'class="unread-count" aria-label="1 unread">1<' in page(client.get("/"))
    thread = page(client.get(f"/t/{topic.slug}/"))
    assert 'aria-label="1 unread">1<' in thread
    # Following it marks it read and leads to the reply.
    n = Notification.objects.get(recipient=alice)
    response = client.post(f"/notifications/{n.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/p/{answer.pk}/"
    assert client.get(response["Location"])["Location"].endswith(f"#p{answer.pk}")
    assert Notification.objects.get(pk=n.pk).read_at is not None
    assert "unread-count" not in page(client.get("/"))
    # Bob hears nothing of his own reply.
    assert kinds_of(bob) == []


def test_quotes_mentions_and_one_notice_per_reply(topic, alice, bob, deliver):
    carol = make_user(username="carol")
    quoted = make_post(topic=topic, author=alice, body="Alice's point.")
    client = signed_in(bob)
    with deliver():
        # "Quote" on Alice's reply fills the form like this.
        body = (
            client.get(f"{reply_url(topic)}?quote={quoted.pk}")
            .context["form"]["body"]
            .value()
        )
        reply = post_reply(
            client,
            topic,
            body=body + "And @carol, @alice and @nobody-here: see above.",
            parent=str(quoted.pk),
        )
    # Alice is answered, quoted and mentioned: told once, as quoted.
    assert kinds_of(alice) == [("quote", f"post:{reply.pk}")]
    assert kinds_of(carol) == [("mention", f"post:{reply.pk}")]
    assert "bob quoted you" in listed(signed_in(alice))
    assert "bob mentioned you" in listed(signed_in(carol))


def test_mentions_in_code_or_past_ten_do_not_notify(topic, bob, deliver):
    named = [make_user(username=f"m{i}") for i in range(12)]
    coder = make_user(username="coder")
    body = (
        "Inline `@coder` and\n\n    @coder in a block\n\n"
        + " ".join(f"@m{i}" for i in range(12))
        + " and a mail to someone@coder.example."
    )
    with deliver():
        post_reply(signed_in(bob), topic, body=body)
    told = set(
        Notification.objects.filter(kind="mention").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {f"m{i}" for i in range(10)}
    assert kinds_of(coder) == []
    assert len(named) == 12


def test_watching_notifies_every_reply_tracking_and_muted_do_not(
    topic, alice, bob, deliver
):
    carol, dave = make_user(username="carol"), make_user(username="dave")
    for reader, level in ((alice, "watching"), (carol, "tracking"), (dave, "muted")):
        response = watch(signed_in(reader), topic, level)
        assert response.status_code == 302
    # Dave muted the topic: even a reply to him says nothing.
    daves = make_post(topic=topic, author=dave)
    with deliver():
        reply = post_reply(signed_in(bob), topic, parent=str(daves.pk))
    # Alice watches: Dave's reply and Bob's each told her.
    assert kinds_of(alice) == [
        ("watched", f"post:{daves.pk}"),
        ("watched", f"post:{reply.pk}"),
    ]
    assert kinds_of(carol) == []
    assert kinds_of(dave) == []
    assert "bob replied in a topic you watch" in listed(signed_in(alice))
    # The levels are listed on the reader's own page, and can be changed there.
    followed = page(signed_in(alice).get("/notifications/topics/"))
    assert topic.title in followed
    assert '<option value="watching" selected>' in followed
    # A bad level is refused with a message.
    refused = watch(signed_in(alice), topic, "loud")
    assert refused.status_code == 400


def test_posting_tracks_the_topic_and_counts_as_read(topic, bob, deliver):
    with deliver():
        reply = post_reply(signed_in(bob), topic)
    reader = TopicReader.objects.get(user=bob, topic=topic)
    assert reader.level == "tracking"
    assert reader.last_read == reply.number
    assert topic.title in page(signed_in(bob).get("/notifications/topics/"))


def test_blocked_readers_replies_and_mentions_do_not_notify(topic, alice, bob, deliver):
    mine = make_post(topic=topic, author=alice)
    client = signed_in(alice)
    assert "Block bob" in page(client.get("/u/bob/"))
    assert client.post("/u/bob/block/").status_code == 302
    assert "bob" in page(client.get("/notifications/settings/"))
    with deliver():
        post_reply(signed_in(bob), topic, parent=str(mine.pk), body="@alice hi")
    assert kinds_of(alice) == []
    # Unblocked, the next one does.
    assert client.post("/u/bob/block/", {"unblock": "1"}).status_code == 302
    with deliver():
        post_reply(signed_in(bob), topic, parent=str(mine.pk), body="@alice again")
    assert [kind for kind, _ in kinds_of(alice)] == ["reply"]
    assert client.post("/u/alice/block/").status_code == 400  # not oneself


def test_nothing_about_hidden_replies(topic, alice, bob, moderator, deliver):
    mine = make_post(topic=topic, author=alice)
    with deliver():
        reply = post_reply(signed_in(bob), topic, parent=str(mine.pk))
    assert "bob replied to you" in listed(signed_in(alice))
    # Hidden since: the notice goes from the list and the count.
    services.posts_set_status(
        posts=Post.objects.filter(pk=reply.pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam.",
    )
    assert "bob replied to you" not in listed(signed_in(alice))
    assert notifications.unread_count(alice) == 0
    # Hidden before the task ran: nobody is told at all.
    bobs = make_post(topic=topic, author=bob, body="Bob's own point.")
    with deliver():
        later = make_post(topic=topic, author=alice, parent=bobs, body="Answer.")
        Post.objects.filter(pk=later.pk).update(
            status=PostStatus.HIDDEN, hidden_reason="Spam."
        )
    # Bob hears that moderators hid his first reply, and nothing of the answer.
    assert [kind for kind, _ in kinds_of(bob)] == ["moderation"]


def test_moderators_actions_on_my_post_tell_me_with_their_reason(
    topic, alice, moderator, deliver
):
    mine = make_post(topic=topic, author=alice)
    chosen = Post.objects.filter(pk=mine.pk)
    with deliver():
        services.posts_set_status(
            posts=chosen, status=PostStatus.HIDDEN, actor=moderator, reason="Off topic."
        )
        services.posts_set_status(
            posts=chosen,
            status=PostStatus.PUBLISHED,
            actor=moderator,
            reason="On reflection, fine.",
        )
        services.posts_review(
            posts=chosen,
            state=ReviewState.DISPUTED,
            actor=moderator,
            note="Which employer?",
        )
    shown = listed(signed_in(alice))
    assert "A moderator hid your reply" in shown and "Reason: Off topic." in shown
    assert "A moderator restored your reply" in shown
    assert "disputed your reply’s disclosure" in shown
    assert "Which employer?" in shown
    assert Notification.objects.filter(recipient=alice, kind="moderation").count() == 3


def test_reports_proposals_and_suspensions_are_told(
    topic, alice, bob, moderator, deliver
):
    theirs = make_post(topic=topic, author=bob)
    with deliver():
        report = services.report_create(post=theirs, reporter=alice, reason="spam")
    assert kinds_of(alice) == []  # filing tells nobody
    with deliver():
        services.reports_resolve(
            posts=Post.objects.filter(pk=theirs.pk),
            outcome=ReportStatus.DISMISSED,
            actor=moderator,
            reason="Not spam.",
        )
    assert kinds_of(alice) == [("report", f"report:{report.pk}")]
    assert "Your report on reply" in listed(signed_in(alice))
    with deliver():
        services.user_suspend(
            user=bob,
            until=timezone.now() + timedelta(days=1),
            reason="Flooding.",
            actor=moderator,
        )
    assert [kind for kind, _ in kinds_of(bob)] == ["suspension"]
    assert "suspended your account" in listed(signed_in(bob))


def test_mark_one_or_all_read_and_only_ones_own(topic, alice, bob, deliver):
    mine = make_post(topic=topic, author=alice)
    with deliver():
        for n in range(3):
            post_reply(signed_in(bob), topic, parent=str(mine.pk), body=f"Reply {n}")
    client = signed_in(alice)
    first, *rest = Notification.objects.filter(recipient=alice).order_by("pk")
    assert (
        client.post(f"/notifications/{first.pk}/", {"stay": "1"})["Location"]
        == "/notifications/"
    )
    assert notifications.unread_count(alice) == 2
    # Bob cannot open (or learn of) Alice's.
    assert signed_in(bob).post(f"/notifications/{rest[0].pk}/").status_code == 404
    assert client.post("/notifications/read/").status_code == 302
    assert notifications.unread_count(alice) == 0
    # Reading needs an account; marking needs POST.
    assert signed_in(alice).get(f"/notifications/{first.pk}/").status_code == 405
    from django.test import Client

    assert Client().get("/notifications/").status_code == 302


def test_the_thread_shows_where_i_stopped_and_the_list_counts_new(
    topic, alice, bob, deliver, settings
):
    settings.STANDPOINT_POSTS_PER_PAGE = 5
    for n in range(6):
        make_post(topic=topic, author=bob, body=f"Early {n}")
    client = signed_in(alice)
    # First visit: no marker (it would be all of it), page 1 read to #5.
    first = page(client.get(f"/t/{topic.slug}/"))
    assert 'id="new"' not in first and "unread-notice" not in first
    assert TopicReader.objects.get(user=alice, topic=topic).last_read == 5
    for n in range(3):
        make_post(topic=topic, author=bob, body=f"Later {n}")
    # The topic list counts what is new to her: #6 to #9.
    listing = page(client.get("/"))
    assert re.search(
        r'class="badge new-count" href="[^"]*\?page=2#new">4 new<', listing
    )
    # The thread says so and jumps to the first new reply, on page 2.
    thread = page(client.get(f"/t/{topic.slug}/"))
    assert "4 new replies since you last read" in thread
    assert f'href="/t/{topic.slug}/?page=2#new"' in thread
    second = page(client.get(f"/t/{topic.slug}/?page=2"))
    sixth = Post.objects.get(topic=topic, number=6)
    assert re.search(rf'id="new".*?id="p{sixth.pk}"', second, re.S)
    # Having read page 2, nothing is new any more.
    again = page(client.get(f"/t/{topic.slug}/?page=2"))
    assert 'id="new"' not in again
    assert "new-count" not in page(client.get("/"))
    # Anonymous pages never carry a reader's marker or controls.
    from django.test import Client

    anonymous = page(Client().get(f"/t/{topic.slug}/?page=2"))
    assert 'id="new"' not in anonymous and 'name="level"' not in anonymous


def test_tasks_run_twice_tell_nobody_twice(topic, alice, bob, deliver):
    mine = make_post(topic=topic, author=alice)
    MailSettings.objects.create(
        user=alice,
        email="alice@example.org",
        verified_at=timezone.now(),
        replies="immediate",
    )
    mail.outbox.clear()
    reply = make_post(topic=topic, author=bob, parent=mine)
    for _ in range(2):
        notifications.reply_published(reply.pk)
    call_command("worker", batch=True, verbosity=0)  # the mail is a task of its own
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert len(mail.outbox) == 1
    # And through the queue: the same task enqueued twice.
    from forum import tasks

    tasks.reply_published.enqueue(reply.pk)
    tasks.reply_published.enqueue(reply.pk)
    call_command("worker", batch=True, verbosity=0)
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() >= 2
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert len(mail.outbox) == 1


# E-mail ---------------------------------------------------------------------


def verify_address(client, address: str, deliver):
    """Add an address as a reader does: the form, the mailed link, the button."""
    mail.outbox.clear()
    with deliver():
        response = client.post("/notifications/settings/address/", {"email": address})
    assert response.status_code == 302
    (message,) = mail.outbox
    link = re.search(r"http://\S+/notifications/verify/\S+/", message.body)[0]
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert f"<strong>{address}</strong>" in page(client.get("/" + path))
    return client.post("/" + path)


def test_an_address_is_used_only_once_verified_by_its_link(alice, deliver):
    client = signed_in(alice)
    with deliver():
        response = client.post(
            "/notifications/settings/address/", {"email": "alice@example.org"}
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["alice@example.org"]
    link = re.search(r"http://\S+/notifications/verify/(\S+)/", message.body)
    assert (
        MailSettings.objects.filter(user=alice, verified_at__isnull=False).count() == 0
    )
    # Someone else's link does not verify their account.
    bob = make_user(username="bob")
    assert signed_in(bob).post(f"/notifications/verify/{link[1]}/").status_code == 400
    response = client.post(f"/notifications/verify/{link[1]}/")
    assert response.status_code == 302
    settings_row = MailSettings.objects.get(user=alice)
    assert settings_row.email == "alice@example.org" and settings_row.verified_at
    assert "Mail goes to <strong>alice@example.org</strong>" in page(
        client.get("/notifications/settings/")
    )


def test_a_forged_or_expired_link_is_refused_and_a_bad_address_kept(
    alice, deliver, settings
):
    client = signed_in(alice)
    response = client.post(
        "/notifications/settings/address/", {"email": "not an address"}
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in page(response)
    assert 'value="not an address"' in page(response)
    assert client.get("/notifications/verify/forged-token/").status_code == 400
    with deliver():
        client.post("/notifications/settings/address/", {"email": "alice@example.org"})
    token = re.search(r"/notifications/verify/(\S+)/", mail.outbox[-1].body)[1]
    settings.STANDPOINT_VERIFY_SECONDS = -1
    response = client.post(f"/notifications/verify/{token}/")
    assert response.status_code == 400
    assert "expired" in page(response)
    assert not MailSettings.objects.filter(
        user=alice, verified_at__isnull=False
    ).exists()


def test_choices_per_kind_with_defaults_and_immediate_mail_with_unsubscribe(
    topic, alice, bob, deliver
):
    client = signed_in(alice)
    form = page(client.get("/notifications/settings/"))
    # Defaults: daily for replies and moderation, none for watched topics.
    assert re.search(r'name="replies" value="daily"[^>]*checked', form)
    assert re.search(r'name="moderation" value="daily"[^>]*checked', form)
    assert re.search(r'name="watched" value="none"[^>]*checked', form)
    assert verify_address(client, "alice@example.org", deliver).status_code == 302
    choices = dict.fromkeys(
        ("mentions", "watched", "moderation", "reports", "proposals"), "none"
    )
    response = client.post(
        "/notifications/settings/", {**choices, "replies": "immediate"}
    )
    assert response.status_code == 302
    # A bad choice is refused, with what was chosen kept.
    response = client.post(
        "/notifications/settings/", {**choices, "replies": "hourly", "watched": "daily"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in page(response)
    assert re.search(r'name="watched" value="daily"[^>]*checked', page(response))
    assert MailSettings.objects.get(user=alice).watched == "none"
    mine = make_post(topic=topic, author=alice)
    mail.outbox.clear()
    with deliver():
        post_reply(signed_in(bob), topic, parent=str(mine.pk), body="A reply @alice")
    (message,) = mail.outbox
    assert message.to == ["alice@example.org"]
    assert "bob replied to you" in message.subject
    assert "A reply @alice" in message.body
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert (
        message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert unsubscribe in message.body
    # One click, as a mail client sends it: no session, no CSRF token.
    from django.test import Client

    anonymous = Client(enforce_csrf_checks=True)
    path = "/" + unsubscribe.split("://", 1)[1].split("/", 1)[1]
    assert "Unsubscribe" in page(anonymous.get(path))
    assert MailSettings.objects.get(user=alice).replies == "immediate"
    response = anonymous.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert MailSettings.objects.get(user=alice).replies == "none"
    assert anonymous.post(path[:-5] + "xxxx/").status_code == 400  # tampered
    mail.outbox.clear()
    with deliver():
        post_reply(signed_in(bob), topic, parent=str(mine.pk), body="Another one")
    assert mail.outbox == []
    # The notice itself is still on the site.
    assert "Another one" in listed(client)


def digest_reader(user, **choices) -> MailSettings:
    now = timezone.now()
    return MailSettings.objects.create(
        user=user,
        email=f"{user.username}@example.org",
        verified_at=now - timedelta(days=20),
        daily_due=now + timedelta(days=1),
        weekly_due=now + timedelta(days=7),
        **choices,
    )


def notice(recipient, actor, topic, n: int, when) -> Notification:
    post = make_post(topic=topic, author=actor, body=f"Digest item {n}")
    return Notification.objects.create(
        recipient=recipient,
        kind="reply",
        key=f"post:{post.pk}",
        actor=actor,
        topic=topic,
        post=post,
        created=when,
    )


def mailed_items() -> list[int]:
    return [
        int(n) for m in mail.outbox for n in re.findall(r"Digest item (\d+)", m.body)
    ]


def test_digests_carry_each_notification_once_across_windows_and_missed_runs(
    topic, alice, bob
):
    reader = digest_reader(alice)
    due = reader.daily_due
    mail.outbox.clear()
    notice(alice, bob, topic, 1, due - timedelta(hours=3))
    # Not due yet: nothing goes, nothing is claimed.
    assert notifications.digests_send(due - timedelta(seconds=1)) == 0
    # One made at the very instant the digest is due, and the run at that instant.
    notice(alice, bob, topic, 2, due)
    assert notifications.digests_send(due) == 1
    assert mailed_items() == [1, 2]
    assert "daily digest" in mail.outbox[0].subject
    # The same run again, or a second worker at once: nothing repeats.
    assert notifications.digests_send(due) == 0
    # Made a moment after the claim but stamped before it (a slow task): the
    # next digest carries it, though its time is inside the first window.
    notice(alice, bob, topic, 3, due - timedelta(minutes=1))
    # The worker is down for three days: one digest at restart, not three,
    # with everything since, and the next one due at the same time of day.
    notice(alice, bob, topic, 4, due + timedelta(days=2))
    restart = due + timedelta(days=3, hours=5)
    assert notifications.digests_send(restart) == 1
    assert mailed_items() == [1, 2, 3, 4]
    reader.refresh_from_db()
    assert reader.daily_due == due + timedelta(days=4)
    # Once every notification went once, later runs send nothing.
    assert notifications.digests_send(due + timedelta(days=9)) == 0
    assert sorted(mailed_items()) == [1, 2, 3, 4]


def test_weekly_and_daily_digests_split_kinds_and_hidden_replies_are_left_out(
    topic, alice, bob, moderator
):
    reader = digest_reader(alice, replies="weekly", mentions="daily")
    now = reader.daily_due
    mail.outbox.clear()
    notice(alice, bob, topic, 1, now - timedelta(hours=1))
    mention_post = make_post(topic=topic, author=bob, body="Digest item 2 @alice")
    Notification.objects.create(
        recipient=alice,
        kind="mention",
        key=f"post:{mention_post.pk}",
        actor=bob,
        topic=topic,
        post=mention_post,
        created=now - timedelta(hours=1),
    )
    hidden = notice(alice, bob, topic, 3, now - timedelta(hours=1))
    services.posts_set_status(
        posts=Post.objects.filter(pk=hidden.post_id),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam.",
    )
    assert notifications.digests_send(now) == 1  # the daily: the mention only
    assert mailed_items() == [2]
    assert notifications.digests_send(reader.weekly_due) == 1
    assert mailed_items() == [2, 1]  # the hidden reply never goes
    assert "weekly digest" in mail.outbox[-1].subject


def test_no_mail_without_a_verified_address(topic, alice, bob, deliver):
    MailSettings.objects.create(
        user=alice, email="alice@example.org", replies="immediate"
    )
    mine = make_post(topic=topic, author=alice)
    mail.outbox.clear()
    with deliver():
        post_reply(signed_in(bob), topic, parent=str(mine.pk))
    assert mail.outbox == []
    assert notifications.digests_send(timezone.now() + timedelta(days=30)) == 0


def test_an_agents_reply_is_told_as_an_agents(topic, alice, bob, deliver):
    agent = make_agent(bob, "helper-bot")
    mine = make_post(topic=topic, author=alice)
    with deliver():
        make_post(
            topic=topic,
            author=agent.account,
            parent=mine,
            body="A sourced answer.",
            **AS_AGENT,
        )
    assert "AI agent helper-bot, run by bob, replied to you" in listed(signed_in(alice))


def test_a_task_is_queued_with_its_change_and_never_for_one_rolled_back(topic, alice):
    from django.db import transaction

    queued = DBTaskResult.objects.filter(task_path="forum.tasks.reply_published")
    with pytest.raises(RuntimeError), transaction.atomic():
        make_post(topic=topic, author=alice, body="Never published.")
        assert queued.count() == 1  # in the same transaction as the reply
        raise RuntimeError
    assert queued.count() == 0
    post = make_post(topic=topic, author=alice, body="Published.")
    assert queued.get().args_kwargs["args"] == [post.pk]


def test_each_kind_links_to_its_place(topic, alice, bob, moderator, deliver):
    """Following each kind of notice marks it read and lands where it is about."""
    from .factories import disclosure

    mine = make_post(topic=topic, author=alice, body="Alice's claim.")
    with deliver():
        answer = make_post(topic=topic, author=bob, parent=mine, body="@alice no.")
        proposal = services.position_propose(
            topic=topic,
            author=alice,
            claim="Defenders should get a licence",
            disclosure=disclosure(),
            attested=True,
        )
        services.proposals_decide(
            proposals=type(proposal).objects.filter(pk=proposal.pk),
            approve=False,
            actor=moderator,
            reason="Already covered by the first position.",
        )
        services.posts_review(
            posts=Post.objects.filter(pk=mine.pk),
            state=ReviewState.VERIFIED,
            actor=moderator,
            note="Checked.",
        )
        services.user_suspend(
            user=alice,
            until=timezone.now() + timedelta(hours=1),
            reason="Cooling off.",
            actor=moderator,
        )
    shown = listed(signed_in(alice))
    assert (
        "A moderator rejected your proposed position “Defenders should get a licence”"
        in shown
    )
    assert "Reason: Already covered by the first position." in shown
    assert "A moderator verified your reply’s disclosure" in shown
    assert "A moderator suspended your account from posting" in shown
    # A moderator is "a moderator", as on the public log.
    assert "moderator replied" not in shown and ">moderator<" not in shown
    expected = {
        "reply": f"/p/{answer.pk}/",
        "proposal": f"/t/{topic.slug}/",
        "moderation": f"/p/{mine.pk}/",
        "suspension": "/moderation/",
    }
    client = signed_in(alice)
    for n in Notification.objects.filter(recipient=alice):
        assert client.post(f"/notifications/{n.pk}/")["Location"] == expected[n.kind]
    assert notifications.unread_count(alice) == 0


# What a review of the first version found ------------------------------------


def test_a_failed_send_gives_its_notifications_back_to_the_next_mail(
    topic, alice, bob, monkeypatch
):
    reader = digest_reader(alice)
    mail.outbox.clear()
    notice(alice, bob, topic, 1, reader.daily_due - timedelta(hours=1))

    def refused(*args, **kwargs):
        raise OSError("The mail server is down.")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMessage.send", refused)
        assert notifications.digests_send(reader.daily_due) == 0
    # Given back: waiting for the next mail.
    assert Notification.objects.filter(recipient=alice, mailing=None).exists()
    # The next digest, a day later, carries it.
    assert notifications.digests_send(reader.daily_due + timedelta(days=1)) == 1
    assert mailed_items() == [1]


def test_a_worker_stopped_between_claim_and_send_loses_nothing(topic, alice, bob):
    reader = digest_reader(alice)
    mail.outbox.clear()
    notice(alice, bob, topic, 1, reader.daily_due - timedelta(hours=1))
    # Claimed, then the process died before sending.
    assert notifications.mailing_make(alice.pk, "daily", reader.daily_due)
    due = reader.daily_due
    assert notifications.mailings_recover(due + timedelta(minutes=5)) == 0
    assert notifications.mailings_recover(due + timedelta(hours=2)) == 1
    assert notifications.mail_pending(alice.pk, "daily", due) == 1
    assert mailed_items() == [1]


def test_changing_the_address_keeps_what_waits_and_new_choices_start_now(
    topic, alice, bob, deliver
):
    client = signed_in(alice)
    mine = make_post(topic=topic, author=alice, body="Mine.")
    # Before any address: told on the site only, never mailed later.
    with deliver():
        make_post(topic=topic, author=bob, parent=mine, body="Digest item 1")
    assert verify_address(client, "alice@example.org", deliver).status_code == 302
    with deliver():
        make_post(topic=topic, author=bob, parent=mine, body="Digest item 2")
    # A new address, confirmed before the digest: item 2 still goes, once.
    assert verify_address(client, "alice@work.example", deliver).status_code == 302
    due = MailSettings.objects.get(user=alice).daily_due
    mail.outbox.clear()
    assert notifications.digests_send(due) == 1
    assert mailed_items() == [2]
    assert mail.outbox[0].to == ["alice@work.example"]
    # Watched topics are off by default: switching them on mails from now on.
    with deliver():
        watch(client, topic, "watching")
        make_post(topic=topic, author=bob, body="Digest item 3")
    choices = dict.fromkeys(("replies", "mentions", "moderation", "reports"), "daily")
    client.post(
        "/notifications/settings/",
        {**choices, "proposals": "daily", "watched": "daily"},
    )
    with deliver():
        make_post(topic=topic, author=bob, body="Digest item 4")
    mail.outbox.clear()
    assert notifications.digests_send(due + timedelta(days=1)) == 1
    assert mailed_items() == [4]


def test_an_old_verification_link_stops_working_once_a_new_one_is_sent(alice, deliver):
    client = signed_in(alice)
    with deliver():
        client.post("/notifications/settings/address/", {"email": "old@example.org"})
        client.post("/notifications/settings/address/", {"email": "new@example.org"})
    old, new = (
        re.search(r"/notifications/verify/(\S+)/", m.body)[1] for m in mail.outbox
    )
    response = client.post(f"/notifications/verify/{old}/")
    assert response.status_code == 400 and "A newer link" in page(response)
    assert client.post(f"/notifications/verify/{new}/").status_code == 302
    assert MailSettings.objects.get(user=alice).email == "new@example.org"


def test_mentions_inside_a_quote_are_the_quoted_authors_not_this_ones(
    topic, alice, bob, deliver
):
    carol = make_user(username="carol")
    quoted = make_post(topic=topic, author=alice, body="I agree with @carol.")
    client = signed_in(bob)
    body = client.get(f"{reply_url(topic)}?quote={quoted.pk}").context["form"]["body"]
    with deliver():
        post_reply(client, topic, body=body.value() + "Not me.", parent=str(quoted.pk))
    assert kinds_of(carol) == [("mention", f"post:{quoted.pk}")]  # Alice's own


def test_reading_newest_first_does_not_mark_the_thread_read(
    topic, alice, bob, settings
):
    settings.STANDPOINT_POSTS_PER_PAGE = 5
    for n in range(12):
        make_post(topic=topic, author=bob, body=f"Reply {n}")
    client = signed_in(alice)
    client.get(f"/t/{topic.slug}/")
    client.get(f"/t/{topic.slug}/?order=newest")
    assert TopicReader.objects.get(user=alice, topic=topic).last_read == 5
    assert "7 new replies since you last read" in page(client.get(f"/t/{topic.slug}/"))


def test_an_operator_is_not_told_of_their_own_agents_reply(topic, alice, bob, deliver):
    agent = make_agent(bob, "bob-bot")
    watch(signed_in(bob), topic, "watching")
    watch(signed_in(alice), topic, "watching")
    with deliver():
        make_post(
            topic=topic,
            author=agent.account,
            body="A summary.",
            **AS_AGENT,
        )
    assert kinds_of(bob) == []
    assert [kind for kind, _ in kinds_of(alice)] == ["watched"]


def test_a_hide_by_the_report_threshold_is_not_blamed_on_a_moderator(
    topic, alice, deliver, settings
):
    settings.STANDPOINT_REPORT_THRESHOLD = 2
    mine = make_post(topic=topic, author=alice, body="Contested.")
    with deliver():
        for _ in range(2):
            services.report_create(post=mine, reporter=make_user(), reason="spam")
    shown = listed(signed_in(alice))
    assert "Your reply was hidden pending a moderator&#x27;s review" in shown
    assert "A moderator hid" not in shown


def test_the_notifications_page_costs_the_same_for_two_and_fifty(
    topic, alice, bob, django_assert_max_num_queries
):
    agent = make_agent(bob, "many-bot")

    def add(n: int):
        for i in range(n):
            author, ai = bob, {}
            if i % 2:
                author = agent.account
                ai = AS_AGENT
            post = make_post(topic=topic, author=author, body=f"Item {i} {n}", **ai)
            Notification.objects.create(
                recipient=alice,
                kind="watched",
                key=f"post:{post.pk}",
                actor=author,
                topic=topic,
                post=post,
            )

    client = signed_in(alice)
    counts = []
    for n in (2, 48):  # each with a person and an agent among the actors
        add(n)
        with django_assert_max_num_queries(8) as ctx:
            assert client.get("/notifications/").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_the_header_counts_up_to_99_then_says_99_plus(topic, alice, bob):
    post = make_post(topic=topic, author=bob, body="Busy thread.")
    Notification.objects.bulk_create(
        Notification(recipient=alice, kind="watched", key=f"k{n}", post=post, actor=bob)
        for n in range(120)
    )
    assert notifications.unread_count(alice) == 100
    header = page(signed_in(alice).get("/"))
    assert 'aria-label="more than 99 unread">99+<' in header
