"""Telling readers what happened to them, and remembering how far they read.

The request that causes a notification only enqueues a task, on commit
(`later`); the task (forum.tasks) calls the functions here, which make each
notification once per recipient and what it is about, and mail it once:
a task run twice, or two at once, tells and mails nobody twice.

Rules for who is told, in one place (`_recipients`):
- nobody about their own action, nor about a hidden reply;
- nobody from a topic they muted, nor of a reply by someone they blocked;
- a reply that answers, quotes and mentions someone tells them once, as the
  most specific of those.
"""

import logging
import math
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task_backends
from django_tasks_db.backend import DatabaseBackend

from .. import markup
from ..models import (
    CATEGORY_OF,
    DIGEST_PERIODS,
    KINDS_OF,
    POST_KINDS,
    Agent,
    Block,
    MailCategory,
    MailChoice,
    Mailing,
    MailSettings,
    ModerationAction,
    ModerationKind,
    Notification,
    NotificationKind,
    Post,
    PostStatus,
    Report,
    Topic,
    TopicReader,
    WatchLevel,
)

logger = logging.getLogger(__name__)

# Moderators' actions on a post that its author hears of.
POST_ACTIONS = frozenset(
    {
        ModerationKind.HIDE,
        ModerationKind.RESTORE,
        ModerationKind.EDIT_POST,
        ModerationKind.VERIFY_DISCLOSURE,
        ModerationKind.DISPUTE_DISCLOSURE,
        ModerationKind.CORRECT_DISCLOSURE,
        ModerationKind.LABEL_DISCLOSURE,
    }
)
ACCOUNT_ACTIONS = frozenset(
    {
        ModerationKind.SUSPEND,
        ModerationKind.LIFT_SUSPENSION,
        ModerationKind.SUSPEND_AGENT,
        ModerationKind.RETIRE_AGENT,
        ModerationKind.REINSTATE_AGENT,
    }
)
PROPOSAL_ACTIONS = frozenset(
    {ModerationKind.APPROVE_POSITION, ModerationKind.REJECT_POSITION}
)
# Watchers read a chunk at a time (a topic may have tens of thousands).
BATCH = 2000
# A mailing claimed this long ago and still not sent was interrupted.
STALE_MAILING = timedelta(hours=1)
# Notifications older than this are not mailed: a digest that was off for
# longer does not bring back last season's news.
MAIL_MAX_AGE = timedelta(days=30)
VERIFY_SALT = "standpoint.notifications.verify"
UNSUBSCRIBE_SALT = "standpoint.notifications.unsubscribe"
VERIFY = "verify"  # a Mailing's period when it carries a verification link
SKIPPED = "skipped"  # notifications from before their reader wanted them mailed


def later(task_name: str, *args) -> None:
    """Enqueue forum.tasks.`task_name`(*args) for when the current transaction
    commits.

    With the queue in the site's database (the default), the task's row is
    written in the transaction itself: workers see it exactly when the change
    that called for it commits, never if it rolls back, and no crash between
    the two can lose it. A queue elsewhere (Redis) is written on commit.
    """
    from .. import tasks

    task = getattr(tasks, task_name)
    in_database = isinstance(task_backends[task.backend], DatabaseBackend)
    if in_database and transaction.get_connection().in_atomic_block:
        task.enqueue(*args)
    else:
        transaction.on_commit(lambda: task.enqueue(*args), robust=True)


# Reading and watching -------------------------------------------------------


def reader_state(
    user: AbstractBaseUser, topic_id: int
) -> tuple[int, TopicReader | None]:
    """(the reader's unread notifications, where they stand with the topic),
    in one query: every signed-in thread page asks both. Plain SQL, as the
    page's other hot queries: building it with the ORM cost more than
    running it."""
    reader = connection.ops.quote_name(TopicReader._meta.db_table)
    sql = (
        f"SELECT ({_unread_sql()}), r.id, r.level, r.last_read FROM (SELECT 1) AS one "
        f"LEFT JOIN {reader} r ON r.user_id = %s AND r.topic_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_unread_params(user), user.pk, topic_id])
        count, pk, level, last_read = cursor.fetchone()
    if pk is None:
        return count, None
    found = TopicReader(pk=pk, user=user, topic_id=topic_id, level=level)
    found.last_read = last_read
    return count, found


def read_up_to(
    user: AbstractBaseUser, topic_id: int, number: int, reader: TopicReader | None
) -> None:
    """Remember that `user` has seen the topic's replies up to `number`; a
    page of older replies leaves the mark where it was."""
    if reader is None:
        TopicReader.objects.bulk_create(
            [TopicReader(user=user, topic_id=topic_id, last_read=number)],
            ignore_conflicts=True,
        )
    elif reader.last_read < number:
        TopicReader.objects.filter(pk=reader.pk, last_read__lt=number).update(
            last_read=number, updated=timezone.now()
        )


@transaction.atomic
def watch_set(*, user: AbstractBaseUser, topic: Topic, level: str) -> TopicReader:
    if level not in WatchLevel.values:
        raise ValidationError("Choose watching, tracking or muted.", code="level")
    reader, _ = TopicReader.objects.update_or_create(
        user=user, topic=topic, defaults={"level": level, "updated": timezone.now()}
    )
    return reader


def followed_topics(user: AbstractBaseUser) -> list[TopicReader]:
    """The topics whose level the reader chose, or tracks for having posted."""
    return list(
        TopicReader.objects.filter(user=user)
        .exclude(level="")
        .select_related("topic")
        .order_by("topic__title")
    )


def read_marks(user: AbstractBaseUser, topic_ids: Iterable[int]) -> dict[int, int]:
    """The last reply number `user` read in each of these topics they read."""
    return dict(
        TopicReader.objects.filter(user=user, topic__in=list(topic_ids))
        .filter(last_read__gt=0)
        .values_list("topic_id", "last_read")
    )


def block_set(*, user: AbstractBaseUser, other: AbstractBaseUser, blocked: bool):
    if other.pk == user.pk:
        raise ValidationError("You cannot block yourself.", code="self")
    if blocked:
        Block.objects.get_or_create(user=user, blocked=other)
    else:
        Block.objects.filter(user=user, blocked=other).delete()


def blocked_users(user: AbstractBaseUser) -> list:
    ids = Block.objects.filter(user=user).values("blocked")
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


# The notifications page ------------------------------------------------------


def visible(user: AbstractBaseUser):
    """A reader's notifications as they may see them: none about a reply
    moderators have hidden since (their own hidden post they hear of as a
    moderation notice)."""
    return Notification.objects.filter(recipient=user).exclude(
        Q(kind__in=POST_KINDS) & Q(post__status=PostStatus.HIDDEN)
    )


# The header counts up to this many ("99+"): a reader with a long backlog
# costs every page no more than one with a short one.
UNREAD_SHOWN = 100


@lru_cache(maxsize=1)
def _unread_sql() -> str:
    """Counts what `visible(user)` holds unread, up to UNREAD_SHOWN."""
    quote = connection.ops.quote_name
    notes = quote(Notification._meta.db_table)
    posts = quote(Post._meta.db_table)
    kinds = ", ".join(["%s"] * len(POST_KINDS))
    return (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {notes} n "
        f"LEFT JOIN {posts} p ON p.id = n.post_id "
        "WHERE n.recipient_id = %s AND n.read_at IS NULL "
        f"AND NOT (n.kind IN ({kinds}) AND COALESCE(p.status, '') = %s) "
        f"LIMIT {UNREAD_SHOWN}) AS unread"
    )


def _unread_params(user: AbstractBaseUser) -> list:
    return [user.pk, *sorted(POST_KINDS), PostStatus.HIDDEN]


def unread_count(user: AbstractBaseUser) -> int:
    """Unread notifications the reader may see, counted up to UNREAD_SHOWN."""
    with connection.cursor() as cursor:
        cursor.execute(_unread_sql(), _unread_params(user))
        return cursor.fetchone()[0]


def mark_read(user: AbstractBaseUser, pk: int | None = None) -> int:
    """Mark one of the reader's notifications read, or all when `pk` is None."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if pk is not None:
        unread = unread.filter(pk=pk)
    return unread.update(read_at=timezone.now())


# Making notifications (run by tasks) ----------------------------------------


def reply_published(post_id: int) -> int:
    """Tell those a new reply concerns; returns how many were told."""
    post = (
        Post.objects.filter(pk=post_id, status=PostStatus.PUBLISHED)
        .select_related("topic")
        .first()
    )
    if post is None:
        return 0
    _track(post)
    # Most specific last: watched, mentioned, answered, quoted; a later kind
    # replaces an earlier one for its recipient.
    told: dict[int, str] = {}
    watchers = TopicReader.objects.filter(
        topic_id=post.topic_id, level=WatchLevel.WATCHING
    ).values_list("user_id", flat=True)
    for pk in watchers.iterator(chunk_size=BATCH):
        told[pk] = NotificationKind.WATCHED
    names, quoted = markup.references(post.body)
    for pk in _mentioned(names):
        told[pk] = NotificationKind.MENTION
    if post.parent_id:
        answered = Post.objects.filter(
            pk=post.parent_id, status=PostStatus.PUBLISHED
        ).values_list("author_id", flat=True)
        for pk in answered:
            told[pk] = NotificationKind.REPLY
    quoted_authors = Post.objects.filter(
        pk__in=quoted[: settings.STANDPOINT_MENTIONS_MAX],
        status=PostStatus.PUBLISHED,
    ).values_list("author_id", flat=True)
    for pk in quoted_authors:
        told[pk] = NotificationKind.QUOTE
    # An agent's operator is not told of what their own agent posts.
    operator = Agent.objects.filter(account_id=post.author_id).values_list(
        "operator_id", flat=True
    )
    for pk in operator:
        told.pop(pk, None)
    told = _recipients(told, actor=post.author_id, topic_id=post.topic_id)
    made = [
        Notification(
            recipient_id=pk,
            kind=kind,
            key=f"post:{post.pk}",
            actor_id=post.author_id,
            topic_id=post.topic_id,
            post=post,
            created=post.created,
        )
        for pk, kind in told.items()
    ]
    _store(made)
    mail_immediately(told)
    return len(made)


def _track(post: Post) -> None:
    """Posting in a topic tracks it (unless the author chose a level), and the
    author has read their own reply."""
    if Agent.objects.filter(account_id=post.author_id).exists():
        return
    TopicReader.objects.bulk_create(
        [
            TopicReader(
                user_id=post.author_id,
                topic_id=post.topic_id,
                level=WatchLevel.TRACKING,
                last_read=post.number,
            )
        ],
        ignore_conflicts=True,
    )
    mine = TopicReader.objects.filter(user_id=post.author_id, topic_id=post.topic_id)
    mine.filter(level="").update(level=WatchLevel.TRACKING)
    mine.filter(last_read__lt=post.number).update(last_read=post.number)


def _mentioned(names: list[str]) -> list[int]:
    """The accounts of the first mentioned names that exist, at most
    STANDPOINT_MENTIONS_MAX, in the order they were written."""
    names = names[: settings.STANDPOINT_MENTIONS_MAX * 5]
    found = dict(
        get_user_model()
        .objects.filter(username__in=names)
        .values_list("username", "pk")
    )
    return [found[n] for n in names if n in found][: settings.STANDPOINT_MENTIONS_MAX]


def _recipients(
    told: dict[int, str], *, actor: int | None, topic_id: int | None
) -> dict[int, str]:
    """`told` without the actor, accounts that cannot read (agents, the
    deactivated), readers who muted the topic, and, for kinds about a reply,
    readers who blocked its author."""
    told.pop(actor, None)
    if not told:
        return told
    ids = list(told)
    skip = set()
    for chunk in _chunks(ids):
        skip.update(
            get_user_model()
            .objects.filter(pk__in=chunk, is_active=False)
            .values_list("pk", flat=True)
        )
        if topic_id is not None:
            skip.update(
                TopicReader.objects.filter(
                    topic_id=topic_id, level=WatchLevel.MUTED, user__in=chunk
                ).values_list("user_id", flat=True)
            )
    if actor is not None and any(kind in POST_KINDS for kind in told.values()):
        blockers = Block.objects.filter(blocked_id=actor).values_list(
            "user_id", flat=True
        )
        skip.update(pk for pk in blockers if told.get(pk) in POST_KINDS)
    return {pk: kind for pk, kind in told.items() if pk not in skip}


def _active(ids: set[int]) -> set[int]:
    """Those of `ids` whose accounts can read (not agents, not deactivated)."""
    found = get_user_model().objects.filter(pk__in=ids, is_active=True)
    return set(found.values_list("pk", flat=True))


def _chunks(items: list, size: int = 900) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _store(made: list[Notification]) -> None:
    """Store each notification once: one already made (a task run again) stays.

    On SQLite one writer holds the lock at a time, from BEGIN (IMMEDIATE), and
    a reply being posted must not queue behind a fan-out to 10,000 watchers
    (bench/notifications.py measures both). So each batch's rows are made
    ready before its transaction begins (bulk_create would build its SQL
    holding the lock), and after each the worker rests FAN_OUT_REST times as
    long as the batch took, leaving posting its share of the lock.
    """
    fields = [f for f in Notification._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    insert = (
        f"INSERT INTO {quote(Notification._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING"
    )
    # A fan-out repeats every value but the recipient's: each prepared once.
    prepared: list[dict] = [{} for _ in fields]

    def row(notification: Notification) -> list:
        values = []
        for field, known in zip(fields, prepared, strict=True):
            value = getattr(notification, field.attname)
            if value not in known:
                known[value] = field.get_db_prep_save(value, connection)
            values.append(known[value])
        return values

    size, rest = settings.STANDPOINT_FAN_OUT_BATCH, settings.STANDPOINT_FAN_OUT_REST
    for start in range(0, len(made), size):
        began = time.monotonic()
        rows = [row(notification) for notification in made[start : start + size]]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(insert, rows)
        if connection.vendor == "sqlite" and rest:
            time.sleep((time.monotonic() - began) * rest)


def actions_logged(action_ids: list[int]) -> int:
    """Tell authors, proposers and suspended readers what moderators did."""
    actions = ModerationAction.objects.filter(pk__in=action_ids).select_related(
        "post", "suspension", "proposal", "agent"
    )
    made = []
    for action in actions:
        for recipient, kind, topic_id in _told_of(action):
            if recipient == action.actor_id:
                continue
            made.append(
                Notification(
                    recipient_id=recipient,
                    kind=kind,
                    key=f"action:{action.pk}",
                    actor=action.actor,
                    topic_id=topic_id,
                    post=action.post,
                    action=action,
                    created=action.created,
                )
            )
    active = _active({n.recipient_id for n in made})
    made = [n for n in made if n.recipient_id in active]
    _store(made)
    mail_immediately({n.recipient_id: n.kind for n in made})
    return len(made)


def _told_of(action: ModerationAction) -> list[tuple[int, str, int | None]]:
    """(recipient, kind, topic) for a moderation action: a post's author (an
    agent's operator for an agent's post), a proposer, a suspended reader."""
    if action.action in POST_ACTIONS and action.post is not None:
        author = action.post.author_id
        operator = Agent.objects.filter(account_id=author).values_list(
            "operator_id", flat=True
        )
        return [
            (next(iter(operator), author), NotificationKind.MODERATION, action.topic_id)
        ]
    if action.action in PROPOSAL_ACTIONS and action.proposal is not None:
        proposal = action.proposal
        return [(proposal.author_id, NotificationKind.PROPOSAL, proposal.topic_id)]
    if action.action in ACCOUNT_ACTIONS:
        if action.suspension is not None:
            return [(action.suspension.user_id, NotificationKind.SUSPENSION, None)]
        if action.agent is not None:
            return [(action.agent.operator_id, NotificationKind.SUSPENSION, None)]
    return []


def reports_resolved(report_ids: list[int]) -> int:
    """Tell readers their reports were resolved, with the verdict."""
    reports = (
        Report.objects.filter(pk__in=report_ids)
        .exclude(status="open")
        .select_related("post")
    )
    made = [
        Notification(
            recipient_id=report.reporter_id,
            kind=NotificationKind.REPORT,
            key=f"report:{report.pk}",
            actor_id=report.resolved_by_id,
            topic_id=report.post.topic_id,
            post=report.post,
            report=report,
            created=report.resolved_at or timezone.now(),
        )
        for report in reports
        if report.reporter_id != report.resolved_by_id
    ]
    active = _active({n.recipient_id for n in made})
    made = [n for n in made if n.recipient_id in active]
    _store(made)
    mail_immediately({n.recipient_id: n.kind for n in made})
    return len(made)


# Mail ----------------------------------------------------------------------


def mail_settings(user: AbstractBaseUser) -> MailSettings:
    """The reader's mail settings, the defaults if they never saved any (unsaved)."""
    return MailSettings.objects.filter(user=user).first() or MailSettings(user=user)


@transaction.atomic
def mail_choices_set(*, user: AbstractBaseUser, choices: dict[str, str]) -> None:
    """Save what the reader wants mailed. A kind they now want that they did
    not is mailed from now on: what it told before waits on the site only."""
    for category, choice in choices.items():
        if category not in MailCategory.values or choice not in MailChoice.values:
            raise ValidationError("Choose none, at once, daily or weekly.")
    found, _ = MailSettings.objects.select_for_update().get_or_create(user=user)
    started = [
        c
        for c, choice in choices.items()
        if found.choice(c) == MailChoice.NONE and choice != MailChoice.NONE
    ]
    _not_to_mail(user, [k for c in started for k in KINDS_OF[c]])
    MailSettings.objects.filter(pk=found.pk).update(**choices)


def _not_to_mail(user: AbstractBaseUser, kinds: list[str]) -> None:
    """Mark the reader's notifications of `kinds` that no mail carried as
    never to be mailed: they came before the reader wanted them mailed."""
    if not kinds:
        return
    pending = Notification.objects.filter(
        recipient=user, mailing__isnull=True, kind__in=kinds
    )
    if pending.exists():
        skipped = Mailing.objects.create(
            user=user, period=SKIPPED, sent_at=timezone.now()
        )
        pending.update(mailing=skipped)


def address_verification(*, user: AbstractBaseUser, address: str) -> Mailing:
    """Ask `address` to confirm it is the reader's: a mailing with a signed,
    expiring link, sent by the worker once this transaction commits. Only
    the latest link asked for works."""
    mailing = Mailing.objects.create(user=user, period=VERIFY, address=address)
    later("send_mailing", mailing.pk)
    return mailing


def verify_token(mailing: Mailing) -> str:
    return signing.dumps(
        {"u": mailing.user_id, "e": mailing.address, "m": mailing.pk},
        salt=VERIFY_SALT,
        compress=True,
    )


def address_from_token(token: str) -> tuple[int, str]:
    """(user id, address) a verification link vouches for; ValidationError
    when it is forged, older than STANDPOINT_VERIFY_SECONDS, or not the
    latest its reader asked for."""
    try:
        found = signing.loads(
            token, salt=VERIFY_SALT, max_age=settings.STANDPOINT_VERIFY_SECONDS
        )
    except signing.SignatureExpired as exc:
        raise ValidationError(
            "This verification link has expired: ask for a new one.", code="expired"
        ) from exc
    except signing.BadSignature as exc:
        raise ValidationError(
            "This verification link is not valid.", code="invalid"
        ) from exc
    latest = Mailing.objects.filter(user_id=found["u"], period=VERIFY).order_by("-pk")
    if latest.values_list("pk", flat=True).first() != found["m"]:
        raise ValidationError(
            "A newer link was sent since this one: use the latest.", code="replaced"
        )
    return found["u"], found["e"]


@transaction.atomic
def address_verify(*, user: AbstractBaseUser, token: str) -> MailSettings:
    user_id, address = address_from_token(token)
    if user_id != user.pk:
        raise ValidationError(
            "This verification link is for another account.", code="other_account"
        )
    now = timezone.now()
    found, _ = MailSettings.objects.select_for_update().get_or_create(user=user)
    if found.verified_at is None:
        # Mail starts now: what came before stays on the site.
        _not_to_mail(user, list(CATEGORY_OF))
    if found.email != address or found.verified_at is None:
        found.email, found.verified_at = address, now
    found.daily_due = found.daily_due or now + DIGEST_PERIODS[MailChoice.DAILY]
    found.weekly_due = found.weekly_due or now + DIGEST_PERIODS[MailChoice.WEEKLY]
    found.save()
    return found


def address_remove(*, user: AbstractBaseUser) -> None:
    MailSettings.objects.filter(user=user).update(email="", verified_at=None)


def unsubscribe_token(user_id: int, categories: Iterable[str]) -> str:
    return signing.dumps(
        {"u": user_id, "c": sorted(set(categories))}, salt=UNSUBSCRIBE_SALT
    )


def unsubscribe_target(token: str) -> tuple[int, list[str]]:
    try:
        found = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise ValidationError(
            "This unsubscribe link is not valid.", code="invalid"
        ) from exc
    return found["u"], [c for c in found["c"] if c in MailCategory.values]


def unsubscribe(token: str) -> tuple[int, list[str]]:
    """Stop the mail a link's e-mail carried (its categories), no sign-in needed."""
    user_id, categories = unsubscribe_target(token)
    MailSettings.objects.filter(user_id=user_id).update(
        **dict.fromkeys(categories, MailChoice.NONE)
    )
    return user_id, categories


def mail_immediately(told: dict[int, str]) -> int:
    """Make a mailing for each of `told` who wants their kind mailed at once;
    each is sent by a task of its own, so a slow mail server holds up no
    fan-out. Returns how many mailings were made."""
    wanted = Q()
    for kind in set(told.values()):
        wanted |= Q(**{CATEGORY_OF[kind]: MailChoice.IMMEDIATE})
    if not told or not wanted:
        return 0
    made = 0
    for chunk in _chunks(list(told)):
        users = MailSettings.objects.filter(
            wanted, user__in=chunk, verified_at__isnull=False
        ).values_list("user_id", flat=True)
        for user_id in users:
            if mailing := mailing_make(user_id, MailChoice.IMMEDIATE, timezone.now()):
                later("send_mailing", mailing.pk)
                made += 1
    return made


@transaction.atomic
def mailing_make(user_id: int, period: str, now: datetime) -> Mailing | None:
    """Claim every notification the reader wants mailed as `period` that no
    mail carried yet, into one new mailing; None when there is none."""
    found = (
        MailSettings.objects.select_for_update()
        .filter(user_id=user_id, verified_at__isnull=False)
        .exclude(email="")
        .first()
    )
    if found is None or not (kinds := found.kinds_mailed(period)):
        return None
    pending = Notification.objects.filter(
        recipient_id=user_id,
        mailing__isnull=True,
        kind__in=kinds,
        created__gte=now - MAIL_MAX_AGE,
    )
    if not pending.exists():
        return None
    mailing = Mailing.objects.create(
        user_id=user_id, period=period, address=found.email, created=now
    )
    pending.update(mailing=mailing)
    return mailing


def mail_pending(user_id: int, period: str, now: datetime) -> int:
    """Make and send the reader's `period` mail, if anything waits for it."""
    mailing = mailing_make(user_id, period, now)
    return 0 if mailing is None else mailing_send(mailing.pk)


def mailing_send(mailing_id: int) -> int:
    """Send a mailing once: claimed before sending, so a second run sends
    nothing (a send that fails gives the claim back, for a retry)."""
    from ..notices import mailing_message

    now = timezone.now()
    if not Mailing.objects.filter(pk=mailing_id, sent_at__isnull=True).update(
        sent_at=now
    ):
        return 0
    mailing = Mailing.objects.select_related("user").get(pk=mailing_id)
    try:
        message = mailing_message(mailing)
        if message is None:  # all it carried is about replies hidden since
            return 0
        message.send()
    except Exception:
        mailing_release(mailing_id)
        raise
    return 1


def mailing_release(mailing_id: int) -> None:
    """Give a mailing that was not sent back: its notifications wait for the
    next mail of their reader (the next digest, or the next at-once mail)."""
    with transaction.atomic():
        Notification.objects.filter(mailing_id=mailing_id).update(mailing=None)
        Mailing.objects.filter(pk=mailing_id).delete()


def mailings_recover(now: datetime | None = None) -> int:
    """Give back mailings claimed but never sent (a worker stopped between
    claim and send); returns how many. Verification mails are left: the
    reader asks again."""
    now = now or timezone.now()
    stale = Mailing.objects.filter(
        sent_at__isnull=True, created__lt=now - STALE_MAILING
    ).exclude(period=VERIFY)
    ids = list(stale.values_list("pk", flat=True))
    for pk in ids:
        mailing_release(pk)
    return len(ids)


def digests_send(now: datetime | None = None) -> int:
    """Send every digest that is due; returns how many mails went.

    A digest carries whatever its reader's notifications no mail carried yet,
    not a window of time, so a late or missed run skips nothing and a second
    run repeats nothing. Each is claimed by moving its due time first: two
    workers at once send it once.
    """
    now = now or timezone.now()
    sent = 0
    for period, field in (
        (MailChoice.DAILY, "daily_due"),
        (MailChoice.WEEKLY, "weekly_due"),
    ):
        step = DIGEST_PERIODS[period]
        due = MailSettings.objects.filter(
            verified_at__isnull=False, **{f"{field}__lte": now}
        ).values_list("pk", "user_id", field)
        for pk, user_id, when in due:
            # Next due at the same time of day, after now: a run missed for
            # days sends one digest, not one per day missed.
            steps = max(1, math.floor((now - when) / step) + 1)
            claimed = MailSettings.objects.filter(pk=pk, **{field: when}).update(
                **{field: when + steps * step}
            )
            if not claimed:
                continue
            try:
                sent += mail_pending(user_id, period, now)
            except Exception:
                # Its notifications went back (mailing_send): the next digest.
                logger.exception("The %s digest of user %s failed", period, user_id)
    return sent
