"""The counts pages read instead of counting, kept by difference.

A write that can move replies between segments of the stance map (posting,
editing, hiding, restoring) takes a `Snapshot` of those replies before and
after, and `tallies_apply` adds the difference to the stored rows: the topics'
`reply_count` and `hidden_count`, a `StanceTally` per position, side,
authorship and interest class, and a `ReplyTally` per topic, authorship and
interest class (whatever the stances: the filters without one). The cost is that of the replies written,
never of the thread. `tallies_recount` counts everything again, for
`manage.py tallies` and for proving the differences right in tests.

Lock order: the topics' rows first, then the tallies, each in key order, the
order post_create already holds them in (it locks its topic to check it is
open), so two writers of one topic queue instead of deadlocking.
"""

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import search
from ..models import Post, PostStatus, ReplyTally, StanceTally, Ties, Topic

logger = logging.getLogger(__name__)

# (topic id, position id, polarity, authorship, ties): one segment of a stance
# map; position 0 and polarity "" for a topic's replies whatever their stance.
Segment = tuple[int, int, str, str, str]
ANY_STANCE = (0, "")


@dataclass
class Snapshot:
    """Where some replies stood: their segments, and how many are in each status."""

    segments: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)  # (topic id, status)

    @classmethod
    def of(cls, posts) -> "Snapshot":
        """`posts` (a QuerySet) as they stand: one query, a row per stance."""
        rows = (
            posts.with_party_flag()
            .values_list(
                "pk",
                "topic_id",
                "status",
                "authorship",
                "paid",
                "conflict",
                "has_party",
                "stance_links__tag__position_id",
                "stance_links__tag__polarity",
            )
            .order_by()
        )
        snapshot, seen = cls(), set()
        for (
            pk,
            topic,
            status,
            authorship,
            paid,
            conflict,
            party,
            position,
            side,
        ) in rows:
            ties = Ties.of(paid=paid, conflict=conflict, has_party=party)
            published = status == PostStatus.PUBLISHED
            if pk not in seen:
                seen.add(pk)
                snapshot.statuses[topic, status] += 1
                if published:
                    snapshot.segments[topic, *ANY_STANCE, authorship, ties] += 1
            if position is not None and published:
                snapshot.segments[topic, position, side, authorship, ties] += 1
        return snapshot

    @classmethod
    def of_new(cls, post: Post, stances, *, has_party: bool) -> "Snapshot":
        """A reply just created, from what its writer holds: no query."""
        ties = Ties.of(paid=post.paid, conflict=post.conflict, has_party=has_party)
        snapshot = cls()
        snapshot.statuses[post.topic_id, post.status] += 1
        if post.status == PostStatus.PUBLISHED:
            topic, authorship = post.topic_id, post.authorship
            snapshot.segments[topic, *ANY_STANCE, authorship, ties] += 1
            for stance in stances:
                segment = (topic, stance.position_id, stance.polarity, authorship, ties)
                snapshot.segments[segment] += 1
        return snapshot

    @property
    def topic_ids(self) -> set[int]:
        return {topic for topic, _ in self.statuses}


def tallies_apply(
    before: Snapshot, after: Snapshot, *, now=None, appended: bool = False
) -> None:
    """Add what changed between two snapshots to the stored counts.

    Every topic either snapshot names moves its `updated` too, so its cached
    pages are versioned out in the same transaction, and its `revised` unless
    the change only `appended` a new reply (which no older page shows).
    """
    now = now or timezone.now()
    stamps = {"updated": now} if appended else {"updated": now, "revised": now}
    for topic_id in sorted(before.topic_ids | after.topic_ids):
        moved = {
            name: after.statuses[topic_id, status] - before.statuses[topic_id, status]
            for name, status in (
                ("reply_count", PostStatus.PUBLISHED),
                ("hidden_count", PostStatus.HIDDEN),
            )
        }
        Topic.objects.filter(pk=topic_id).update(
            **stamps, **{name: F(name) + n for name, n in moved.items() if n}
        )
    changes = {
        segment: after.segments[segment] - before.segments[segment]
        for segment in before.segments.keys() | after.segments.keys()
    }
    _add(sorted((segment, n) for segment, n in changes.items() if n))


def _add(changes: list[tuple[Segment, int]]) -> None:
    """Each changed segment in key order: an upsert to add, an update to take away.

    (An upsert cannot take away: the row it proposes would fail the table's
    check on its negative count before the conflict is seen.) Taking more
    than is there means the tallies drifted: a count never goes below zero,
    a missing row is logged, and `manage.py tallies --check` finds either.
    """
    for segment, n in changes:
        topic, position, polarity, authorship, ties = segment
        if (position, polarity) == ANY_STANCE:
            model, conflict = ReplyTally, ("topic_id", "authorship", "ties")
            row = {"topic_id": topic, "authorship": authorship, "ties": ties}
        else:
            model = StanceTally
            conflict = ("position_id", "polarity", "authorship", "ties")
            row = {
                "topic_id": topic,
                "position_id": position,
                "polarity": polarity,
                "authorship": authorship,
                "ties": ties,
            }
        if n > 0:
            _upsert(model, conflict, row, n)
            continue
        key = {name: row[name] for name in conflict}
        taken = model.objects.filter(**key).update(count=Greatest(F("count") + n, 0))
        if not taken:
            logger.warning("Tally drift: no row to take %d from for %r", -n, segment)


def _upsert(model, conflict: tuple[str, ...], row: dict, n: int) -> None:
    """Add `n` to a tally row, creating it: one statement, safe against a
    concurrent writer creating the same row."""
    quote = connection.ops.quote_name
    table, count = quote(model._meta.db_table), quote("count")
    columns = [*row, "count"]
    sql = (
        f"INSERT INTO {table} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(map(quote, conflict))}) "
        f"DO UPDATE SET {count} = {table}.{count} + excluded.{count}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*row.values(), n])


@contextmanager
def tallied(posts) -> Iterator[None]:
    """Keep the counts right across a change to `posts` (a QuerySet, locked)."""
    ids = list(posts.values_list("pk", flat=True))
    posts = Post.objects.filter(pk__in=ids)
    before = Snapshot.of(posts)
    yield
    tallies_apply(before, Snapshot.of(posts))
    # The same writes change what search finds: in step, in this transaction.
    search.reindex(ids)


def topics_touch(*, topic_ids: Iterable[int]) -> None:
    """Mark topics changed where no reply moved (a new position, a review)."""
    now = timezone.now()
    Topic.objects.filter(pk__in=list(topic_ids)).update(updated=now, revised=now)


@transaction.atomic
def tallies_recount(*, topic_ids: Iterable[int] | None = None, fix: bool) -> list[str]:
    """Count the topics' replies again and compare with what is stored.

    Returns a line per difference; with `fix`, stores the recount. The topics
    are locked first, so no reply lands between the count and the store.
    """
    topics = Topic.objects.select_for_update().order_by("pk")
    if topic_ids is not None:
        topics = topics.filter(pk__in=list(topic_ids))
    ids = list(topics.values_list("pk", flat=True))
    counted = Snapshot.of(Post.objects.filter(topic_id__in=ids))
    stored = _stored(ids)
    drift = [
        f"topic {topic}: {name} stored {stored.statuses[topic, status]}, "
        f"counted {counted.statuses[topic, status]}"
        for topic in ids
        for name, status in (
            ("replies", PostStatus.PUBLISHED),
            ("hidden", PostStatus.HIDDEN),
        )
        if stored.statuses[topic, status] != counted.statuses[topic, status]
    ]
    drift += [
        f"topic {segment[0]}: {_described(segment)} "
        f"stored {stored.segments[segment]}, counted {counted.segments[segment]}"
        for segment in sorted(stored.segments.keys() | counted.segments.keys())
        if stored.segments[segment] != counted.segments[segment]
    ]
    if fix and drift:
        tallies_apply(stored, counted)
    return drift


def _described(segment: Segment) -> str:
    _, position, polarity, authorship, ties = segment
    if (position, polarity) == ANY_STANCE:
        return f"all replies {authorship} {ties}"
    return f"position {position} {polarity} {authorship} {ties}"


def _stored(topic_ids: list[int]) -> Snapshot:
    snapshot = Snapshot()
    for pk, replies, hidden in Topic.objects.filter(pk__in=topic_ids).values_list(
        "pk", "reply_count", "hidden_count"
    ):
        snapshot.statuses[pk, PostStatus.PUBLISHED] = replies
        snapshot.statuses[pk, PostStatus.HIDDEN] = hidden
    stance_rows = StanceTally.objects.filter(
        topic_id__in=topic_ids, count__gt=0
    ).values_list("topic_id", "position_id", "polarity", "authorship", "ties", "count")
    for *segment, count in stance_rows:
        snapshot.segments[tuple(segment)] = count
    reply_rows = ReplyTally.objects.filter(
        topic_id__in=topic_ids, count__gt=0
    ).values_list("topic_id", "authorship", "ties", "count")
    for topic, authorship, ties, count in reply_rows:
        snapshot.segments[topic, *ANY_STANCE, authorship, ties] = count
    return snapshot
