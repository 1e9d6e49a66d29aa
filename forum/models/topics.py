"""Topics seeded from articles, and the parties and positions they name."""

from datetime import UTC, datetime
from typing import NamedTuple

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from taggit.models import TagBase

from ..markup import Block, article_blocks, render_markdown
from .disclosure import Disclosure


class Polarity(models.TextChoices):
    SUPPORTS = "supports", "Supports"
    OPPOSES = "opposes", "Opposes"


class TopicQuerySet(models.QuerySet):
    def for_list_page(self):
        return self.prefetch_related("positions")

    # The two stamps below run on every cached page hit, where building an ORM
    # query costs ten times the query itself (120 µs against 12): plain SQL.

    def stamp(self, slug: str) -> tuple[int, datetime] | None:
        """The (id, updated) of the topic with `slug`: what versions its caches."""
        row = self._fetch_one("SELECT id, updated FROM {table} WHERE slug = %s", slug)
        return None if row is None else (row[0], _as_datetime(row[1]))

    def page_stamp(self, slug: str) -> "PageStamp | None":
        """What a thread page is versioned on, in the same one query as `stamp`."""
        row = self._fetch_one(
            "SELECT id, updated, revised, reply_count + hidden_count "
            "FROM {table} WHERE slug = %s",
            slug,
        )
        if row is None:
            return None
        pk, updated, revised, shown = row
        return PageStamp(pk, _as_datetime(updated), _as_datetime(revised), shown)

    def post_stamp(self, post_id: int) -> tuple[int, datetime] | None:
        """The (id, updated) of the topic that holds reply `post_id`."""
        row = self._fetch_one(
            "SELECT t.id, t.updated FROM {table} t JOIN forum_post p "
            "ON p.topic_id = t.id WHERE p.id = %s",
            post_id,
        )
        return None if row is None else (row[0], _as_datetime(row[1]))

    def list_stamp(self) -> tuple[int, datetime | None]:
        """How many topics there are and when the latest changed."""
        count, latest = self._fetch_one("SELECT COUNT(*), MAX(updated) FROM {table}")
        return count, None if latest is None else _as_datetime(latest)

    def for_thread(self, pk: int) -> "Topic | None":
        """The topic with what its thread page reads besides its own row
        (thread_prefetch's lists), each by plain SQL: on an empty cache the
        ORM's prefetches cost a thread page about 1.5 ms, five times their
        queries."""
        from django.contrib.auth import get_user_model

        from .rows import plain_get, plain_rows, set_prefetched

        topic = plain_get(self.model, "id = %s", [pk])
        if topic is None:
            return None
        quote = connections[self.db].ops.quote_name
        order = f"{quote('order')}, id"  # Position's ordering
        positions = plain_rows(Position, "topic_id = %s", [pk], order=order)
        proposers = {p.proposed_by_id for p in positions} - {None}
        if proposers:
            users = get_user_model()
            marks = ", ".join(["%s"] * len(proposers))
            found = {
                u.pk: u for u in plain_rows(users, f"id IN ({marks})", [*proposers])
            }
            for position in positions:
                if position.proposed_by_id is not None:
                    position.proposed_by = found[position.proposed_by_id]
        parties = plain_rows(Party, "topic_id = %s", [pk], order="name, id")
        links = self.model.conflict_parties.through._meta
        party, owner = (links.get_field(name).column for name in ("party", "topic"))
        with connections[self.db].cursor() as cursor:
            cursor.execute(
                f"SELECT {quote(party)} FROM {quote(links.db_table)} "
                f"WHERE {quote(owner)} = %s",
                [pk],
            )
            tied = {row[0] for row in cursor.fetchall()}
        set_prefetched(topic, "positions", positions)
        set_prefetched(topic, "parties", parties)
        set_prefetched(topic, "conflict_parties", [p for p in parties if p.pk in tied])
        return topic

    def _fetch_one(self, sql: str, *params):
        table = connections[self.db].ops.quote_name(self.model._meta.db_table)
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql.format(table=table), params)
            return cursor.fetchone()


class PageStamp(NamedTuple):
    pk: int
    updated: datetime  # any change, a new reply included
    revised: datetime  # any change but a new reply
    shown: int  # replies in the whole thread, tombstones included


def _as_datetime(value: datetime | str) -> datetime:
    """A raw datetime column: aware from PostgreSQL, naive UTC or text from SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Topic(Disclosure):
    """A debate, seeded from one article that readers see at the top of the thread."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    lede = models.TextField(blank=True)
    body = models.TextField(help_text="The article, in markdown.")
    body_html = models.TextField(editable=False, default="")
    source_publication = models.CharField(
        "source", max_length=300, help_text="Where the article comes from."
    )
    source_url = models.URLField("source URL", blank=True)
    source_date = models.DateField("source date", null=True, blank=True)
    disclosure_statement = models.TextField(
        blank=True, help_text="The article's own disclosure, in its words."
    )
    is_locked = models.BooleanField(
        "locked", default=False, help_text="A locked topic takes no new replies."
    )
    is_pinned = models.BooleanField("pinned", default=False)
    created = models.DateTimeField(default=timezone.now)
    # Derived, kept by services in the writing transaction: pages read them
    # instead of counting rows, and `updated` versions the anonymous page cache.
    reply_count = models.PositiveIntegerField("replies", default=0, editable=False)
    # Hidden replies stay in the thread as tombstones, so pages count them too.
    hidden_count = models.PositiveIntegerField(default=0, editable=False)
    updated = models.DateTimeField(default=timezone.now, editable=False)
    # Moved with `updated` by every change except a new reply, which leaves
    # every full page of older replies as it was: those pages are versioned
    # on this one, so they stay cached while people post (views.threads).
    revised = models.DateTimeField(default=timezone.now, editable=False)

    objects = TopicQuerySet.as_manager()

    class Meta(Disclosure.Meta):
        ordering = ["-is_pinned", "-created", "-id"]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.body_html = render_markdown(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("topic-detail", kwargs={"slug": self.slug})

    @staticmethod
    def thread_prefetch() -> tuple:
        """What the thread page reads of a topic besides its own row."""
        positions = Position.objects.select_related("proposed_by")
        return (models.Prefetch("positions", positions), "parties", "conflict_parties")

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The article in top-level blocks, its paragraphs numbered as passages."""
        return article_blocks(self.body)

    def passage(self, number: int) -> Block | None:
        """Paragraph `number` (from 1) of the article, or None."""
        found = [block for block in self.blocks if block.number == number]
        return found[0] if found else None

    @property
    def disclosure_topic(self) -> "Topic":
        return self

    def party_named(self, name: str) -> "Party | None":
        """The party called `name` (or one of its aliases), ignoring case."""
        wanted = name.strip().casefold()
        if not wanted:
            return None
        for party in self.parties.all():
            if wanted in party.names():
                return party
        return None


class Party(models.Model):
    """Someone the article names with a stake in the debate."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="parties")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    aliases = models.CharField(
        max_length=500, blank=True, help_text="Other names it goes by, comma-separated."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "slug"],
                name="forum_party_unique_slug_per_topic",
                violation_error_message="This topic already has a party with this slug.",
            ),
        ]

    def __str__(self):
        return self.name

    def names(self) -> set[str]:
        aliases = (alias.strip() for alias in self.aliases.split(","))
        return {n.casefold() for n in (self.name, *aliases) if n}


class Position(models.Model):
    """A claim people take sides on; each has a supporting and an opposing stance."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="positions")
    slug = models.SlugField(max_length=80)
    claim = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    quote = models.TextField(
        blank=True, help_text="The article's sentence it comes from."
    )
    order = models.PositiveSmallIntegerField(default=0)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="The reader whose proposal a moderator approved.",
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "slug"],
                name="forum_position_unique_slug_per_topic",
                violation_error_message="This topic already has a position with this slug.",
            ),
        ]

    def __str__(self):
        return self.claim

    @property
    def support_count(self) -> int:
        """Published replies supporting it, from the stored tallies."""
        return self._tallied(Polarity.SUPPORTS)

    @property
    def oppose_count(self) -> int:
        return self._tallied(Polarity.OPPOSES)

    def _tallied(self, polarity: str) -> int:
        found = self.tallies.filter(polarity=polarity).aggregate(n=models.Sum("count"))
        return found["n"] or 0

    @property
    def supports_slug(self) -> str:
        return Stance.slug_for(self, Polarity.SUPPORTS)

    @property
    def opposes_slug(self) -> str:
        return Stance.slug_for(self, Polarity.OPPOSES)


class Stance(TagBase):
    """A controlled tag: for or against one position.

    Name and slug are unique per position and polarity, not site-wide as in
    taggit's TagBase, so two topics may both hold a "ban-is-justified" position.
    """

    name = models.CharField(max_length=250)
    slug = models.SlugField(max_length=100, allow_unicode=False)
    position = models.ForeignKey(
        Position, on_delete=models.CASCADE, related_name="stances"
    )
    polarity = models.CharField(max_length=8, choices=Polarity.choices)

    class Meta:
        ordering = ["position__order", "position_id", "-polarity"]
        constraints = [
            models.UniqueConstraint(
                fields=["position", "polarity"],
                name="forum_stance_one_per_polarity",
                violation_error_message="This position already has this stance.",
            ),
            models.CheckConstraint(
                condition=Q(polarity__in=Polarity.values),
                name="forum_stance_polarity_valid",
                violation_error_message="Polarity must be supports or opposes.",
            ),
        ]

    def __str__(self):
        return self.name

    @staticmethod
    def slug_for(position: Position, polarity: str) -> str:
        return f"{polarity}-{position.slug}"

    @staticmethod
    def name_for(position: Position, polarity: str) -> str:
        return f"{Polarity(polarity).label}: {position.claim}"
