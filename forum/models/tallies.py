"""Counts stored so that no page counts replies: the stance map's and the filters'."""

from dataclasses import dataclass

from django.db import connection, models
from django.db.models import Q

from .disclosure import Authorship, Ties
from .topics import Polarity, Position, Stance, Topic


class Tally(models.Model):
    """How many published replies share one authorship and one interest class."""

    authorship = models.CharField(max_length=16, choices=Authorship.choices)
    ties = models.CharField(max_length=16, choices=Ties.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class StanceTally(Tally):
    """Published replies taking one side of a position, with one authorship and
    one interest class.

    Kept by forum.services.tallies in every writing transaction that moves a
    reply between segments, so no page counts replies; `manage.py tallies
    --check` recounts them to prove it. Stored by authorship rather than its
    class (`Written`) so that every reader filter's count is a sum of rows. The
    topic is stored beside the position so a page of topics reads its tallies
    in one query.
    """

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    position = models.ForeignKey(
        Position, on_delete=models.CASCADE, related_name="tallies"
    )
    polarity = models.CharField(max_length=8, choices=Polarity.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["position", "polarity", "authorship", "ties"],
                name="forum_tally_one_per_segment",
            ),
            models.CheckConstraint(
                condition=Q(polarity__in=Polarity.values)
                & Q(authorship__in=Authorship.values)
                & Q(ties__in=Ties.values),
                name="forum_tally_segment_valid",
            ),
        ]
        indexes = [models.Index(fields=["topic"], name="forum_tally_topic")]

    def __str__(self):
        return (
            f"{self.position_id} {self.polarity} {self.authorship} {self.ties}: "
            f"{self.count}"
        )


class ReplyTally(Tally):
    """Published replies in a topic with one authorship and one interest class,
    whatever their stances: the count of a filtered view with no stance."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "authorship", "ties"],
                name="forum_reply_tally_one_per_segment",
            ),
            models.CheckConstraint(
                condition=Q(authorship__in=Authorship.values) & Q(ties__in=Ties.values),
                name="forum_reply_tally_segment_valid",
            ),
        ]

    def __str__(self):
        return f"{self.topic_id} {self.authorship} {self.ties}: {self.count}"


def tallied_count(
    topic: Topic | int,
    *,
    stance: Stance | None = None,
    authorships: list[str] | None = None,
    ties: str | None = None,
) -> int:
    """Published replies of `topic` in a reader filter's segments, from the
    stored rows: one small query, whatever the thread's size."""
    return TopicTallies.of(topic).count(
        stance=stance, authorships=authorships, ties=ties
    )


@dataclass(frozen=True)
class TopicTallies:
    """All of a topic's stored tallies, read in one query: a page that needs
    the count of one filter view and then another (or a cache holding them for
    a topic version) sums rows in memory instead of asking again."""

    # (position id, polarity, authorship, ties, count); the position and
    # polarity are None for the topic's rows whatever their stances.
    rows: tuple[tuple[int | None, str | None, str, str, int], ...]  # in one order

    @classmethod
    def of(cls, topic: Topic | int) -> "TopicTallies":
        pk = topic if isinstance(topic, int) else topic.pk
        quote = connection.ops.quote_name
        stances, replies = (quote(m._meta.db_table) for m in (StanceTally, ReplyTally))
        n = quote("count")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT position_id, polarity, authorship, ties, {n} FROM {stances} "
                "WHERE topic_id = %s UNION ALL "
                f"SELECT NULL, NULL, authorship, ties, {n} FROM {replies} "
                # In one order, so that equal tallies digest alike.
                "WHERE topic_id = %s ORDER BY 1, 2, 3, 4",
                [pk, pk],
            )
            return cls(tuple(map(tuple, cursor.fetchall())))

    def count(
        self,
        *,
        stance: Stance | None = None,
        authorships: list[str] | None = None,
        ties: str | None = None,
    ) -> int:
        side = (None, None) if stance is None else (stance.position_id, stance.polarity)
        return sum(
            n
            for position, polarity, authorship, tie, n in self.rows
            if (position, polarity) == side
            and (authorships is None or authorship in authorships)
            and (not ties or tie == ties)
        )


class StanceMapPiece(models.Model):
    """A topic's positions section with its stance map, rendered and stored.

    Like a reply's piece (forum.pieces): the thread's first page on an empty
    cache reads it instead of building and rendering the map (about 4 ms).
    `version` digests what it shows: the topic's revision (its positions,
    parties, lock), its stored tallies and the templates (forum.stancemap).
    """

    topic = models.OneToOneField(
        Topic, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.CharField(max_length=64)
    html = models.TextField()

    def __str__(self):
        return f"{self.topic_id} {self.version[:12]}"
