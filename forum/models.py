"""Topics seeded from articles, the parties and positions they name, and disclosed posts.

Every rule that fits on one row is a named CheckConstraint, so no path (form,
admin, shell, command) can store a post that breaks it. Rules that span rows
(stances belong to the topic, conflicts name its parties) live in services.py.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db import connections, models
from django.db.models import F, Q, Value
from django.db.models.functions import Length, Replace, Trim
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from taggit.managers import TaggableManager
from taggit.models import TagBase, TaggedItemBase

from .markup import render_markdown

BODY_MAX_LENGTH = 20_000
REASON_MAX_LENGTH = 1000


def not_blank(field: str) -> GreaterThan:
    """A condition that `field` holds more than whitespace, on SQLite and PostgreSQL.

    SQL TRIM strips spaces only, so other whitespace becomes a space first.
    """
    text = F(field)
    for char in "\t\n\r\f\v\xa0":
        text = Replace(text, Value(char), Value(" "))
    return GreaterThan(Length(Trim(text)), 0)


class Authorship(models.TextChoices):
    HUMAN = "human", "Human-written"
    AI_POLISHED = "ai_polished", "AI-polished"
    AI_ASSISTED = "ai_assisted", "AI-assisted"
    AI_GENERATED = "ai_generated", "AI-generated"


class Paid(models.TextChoices):
    NO = "no", "Not paid"
    YES = "yes", "Paid"
    EXPECTED = "expected", "Expects to be paid"


class Conflict(models.TextChoices):
    NONE = "none", "No conflict of interest"
    DECLARED = "declared", "Declared conflict of interest"


class Polarity(models.TextChoices):
    SUPPORTS = "supports", "Supports"
    OPPOSES = "opposes", "Opposes"


class PostStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    HIDDEN = "hidden", "Hidden"


class Disclosure(models.Model):
    """Who or what wrote a text and what ties its author has to the subject.

    Shared by posts and by the seed article itself: the site holds its sources
    to the rule it holds its users to.
    """

    authorship = models.CharField(
        "who wrote it", max_length=16, choices=Authorship.choices
    )
    ai_model = models.CharField("AI model", max_length=100, blank=True)
    ai_maker = models.CharField("AI model's maker", max_length=100, blank=True)
    affiliation = models.CharField(max_length=200)
    paid = models.CharField("paid to post", max_length=10, choices=Paid.choices)
    paid_by = models.CharField("paid by", max_length=200, blank=True)
    conflict = models.CharField(
        "conflict of interest", max_length=10, choices=Conflict.choices
    )
    conflict_parties = models.ManyToManyField(
        "Party", blank=True, related_name="%(class)s_conflicts"
    )
    conflict_details = models.TextField(max_length=1000, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(authorship__in=Authorship.values),
                name="%(app_label)s_%(class)s_authorship_valid",
                violation_error_message="Authorship must be one of: "
                + ", ".join(Authorship.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=(Q(authorship=Authorship.HUMAN, ai_model="", ai_maker=""))
                | (
                    ~Q(authorship=Authorship.HUMAN)
                    & Q(not_blank("ai_model"))
                    & Q(not_blank("ai_maker"))
                ),
                name="%(app_label)s_%(class)s_ai_fields_match_authorship",
                violation_error_message="Name the AI model and its maker when AI "
                "was involved, and leave both empty when it was not.",
            ),
            models.CheckConstraint(
                condition=Q(not_blank("affiliation")),
                name="%(app_label)s_%(class)s_affiliation_not_blank",
                violation_error_message="Affiliation is required; write “none” if "
                "you have none.",
            ),
            models.CheckConstraint(
                condition=Q(paid__in=Paid.values),
                name="%(app_label)s_%(class)s_paid_valid",
                violation_error_message="Paid must be one of: "
                + ", ".join(Paid.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=Q(paid=Paid.NO, paid_by="")
                | (~Q(paid=Paid.NO) & Q(not_blank("paid_by"))),
                name="%(app_label)s_%(class)s_paid_by_matches_paid",
                violation_error_message="Say who pays when the post is paid or "
                "payment is expected, and no one otherwise.",
            ),
            models.CheckConstraint(
                condition=Q(conflict__in=Conflict.values),
                name="%(app_label)s_%(class)s_conflict_valid",
                violation_error_message="Conflict must be one of: "
                + ", ".join(Conflict.values)
                + ".",
            ),
            models.CheckConstraint(
                condition=Q(conflict=Conflict.NONE, conflict_details="")
                | (Q(conflict=Conflict.DECLARED) & Q(not_blank("conflict_details"))),
                name="%(app_label)s_%(class)s_conflict_details_match_conflict",
                violation_error_message="Describe a declared conflict, and leave "
                "the details empty when there is none.",
            ),
        ]

    @property
    def uses_ai(self) -> bool:
        return self.authorship != Authorship.HUMAN

    @property
    def maker_party(self) -> "Party | None":
        """The debate's party that made the AI model, if any: derived, never typed."""
        if not self.uses_ai:
            return None
        return self.disclosure_topic.party_named(self.ai_maker)

    @property
    def disclosure_topic(self) -> "Topic":
        raise NotImplementedError


class TopicQuerySet(models.QuerySet):
    def for_list_page(self):
        return self.prefetch_related("positions")

    # The two stamps below run on every cached page hit, where building an ORM
    # query costs ten times the query itself (120 µs against 12): plain SQL.

    def stamp(self, slug: str) -> tuple[int, datetime] | None:
        """The (id, updated) of the topic with `slug`: what versions its caches."""
        row = self._fetch_one("SELECT id, updated FROM {table} WHERE slug = %s", slug)
        return None if row is None else (row[0], _as_datetime(row[1]))

    def list_stamp(self) -> tuple[int, datetime | None]:
        """How many topics there are and when the latest changed."""
        count, latest = self._fetch_one("SELECT COUNT(*), MAX(updated) FROM {table}")
        return count, None if latest is None else _as_datetime(latest)

    def _fetch_one(self, sql: str, *params):
        table = connections[self.db].ops.quote_name(self.model._meta.db_table)
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql.format(table=table), params)
            return cursor.fetchone()


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
    # Published replies per polarity, kept by services like Topic.reply_count.
    support_count = models.PositiveIntegerField(default=0, editable=False)
    oppose_count = models.PositiveIntegerField(default=0, editable=False)

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


class PostStance(TaggedItemBase):
    content_object = models.ForeignKey(
        "Post", on_delete=models.CASCADE, related_name="stance_links"
    )
    # PROTECT: deleting a position must not silently strip replies of their stance.
    tag = models.ForeignKey(Stance, on_delete=models.PROTECT, related_name="post_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["content_object", "tag"], name="forum_poststance_unique"
            ),
        ]

    def __str__(self):
        return f"{self.content_object_id}: {self.tag}"


class PostKeyword(TaggedItemBase):
    content_object = models.ForeignKey(
        "Post", on_delete=models.CASCADE, related_name="keyword_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["content_object", "tag"], name="forum_postkeyword_unique"
            ),
        ]

    def __str__(self):
        return f"{self.content_object_id}: {self.tag}"


class PostQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=PostStatus.PUBLISHED)

    def visible_to(self, user):
        """Hidden posts exist for staff only: everyone else gets published ones."""
        return self if user.is_staff else self.published()

    def for_topic(self, topic: Topic):
        return self.filter(topic=topic)

    def with_stance(self, stance: Stance):
        return self.filter(stance_links__tag=stance)

    def with_authorship(self, authorship: str):
        return self.filter(authorship=authorship)

    def in_thread_order(self):
        return self.order_by("created", "id")

    def before(self, post: "Post"):
        """Posts ahead of `post` in thread order: its index, for its permalink's page."""
        return self.filter(
            Q(created__lt=post.created) | Q(created=post.created, id__lt=post.id)
        )

    def in_order_of(self, ids) -> list["Post"]:
        """These posts in the order of `ids`, found by primary key alone.

        With no ORDER BY the database cannot prefer walking a thread index.
        """
        ids = list(ids)
        found = {post.pk: post for post in self.filter(pk__in=ids).order_by()}
        return [found[pk] for pk in ids if pk in found]

    def for_thread_page(self):
        return self.select_related("author").prefetch_related(
            "stances", "tags", "conflict_parties"
        )


class Post(Disclosure):
    """A reply in a topic, with its stances and its author's disclosure."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name="in reply to",
    )
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    body_html = models.TextField(editable=False, default="")
    status = models.CharField(
        max_length=10, choices=PostStatus.choices, default=PostStatus.PUBLISHED
    )
    hidden_reason = models.TextField(
        max_length=REASON_MAX_LENGTH,
        blank=True,
        editable=False,
        help_text="The moderators' public reason, shown in the post's place.",
    )
    attested_at = models.DateTimeField(
        "disclosure attested at",
        help_text="When the author confirmed the disclosure is complete and accurate.",
    )
    created = models.DateTimeField(default=timezone.now)
    edited = models.DateTimeField(null=True, blank=True)

    stances = TaggableManager(
        "stances",
        through=PostStance,
        related_name="posts",
        help_text="Where this reply stands on the topic's positions.",
    )
    tags = TaggableManager(
        "keyword tags",
        through=PostKeyword,
        related_name="forum_posts",
        blank=True,
        help_text="Optional keywords, comma-separated.",
    )

    objects = PostQuerySet.as_manager()

    class Meta(Disclosure.Meta):
        ordering = ["created", "id"]
        indexes = [
            models.Index(
                fields=["topic", "status", "created", "id"], name="forum_post_thread"
            ),
            # Staff read threads with hidden replies too: no status in the way.
            models.Index(
                fields=["topic", "created", "id"], name="forum_post_thread_all"
            ),
            models.Index(fields=["topic", "authorship"], name="forum_post_authorship"),
        ]
        constraints = [
            *Disclosure.Meta.constraints,
            models.CheckConstraint(
                condition=Q(not_blank("body"))
                & Q(LessThanOrEqual(Length("body"), BODY_MAX_LENGTH)),
                name="forum_post_body_length",
                violation_error_message=f"A post needs a body of at most "
                f"{BODY_MAX_LENGTH} characters.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PostStatus.values),
                name="forum_post_status_valid",
                violation_error_message="Status must be published or hidden.",
            ),
            models.CheckConstraint(
                condition=~Q(status=PostStatus.HIDDEN) | Q(not_blank("hidden_reason")),
                name="forum_post_hidden_has_reason",
                violation_error_message="A hidden post needs the moderators' reason.",
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("id")),
                name="forum_post_not_own_parent",
                violation_error_message="A post cannot reply to itself.",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} by {self.author} in {self.topic}"

    def save(self, *args, **kwargs):
        self.body_html = render_markdown(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("post-detail", kwargs={"pk": self.pk})

    @property
    def disclosure_topic(self) -> Topic:
        return self.topic

    @property
    def is_hidden(self) -> bool:
        return self.status == PostStatus.HIDDEN


# Moderation ------------------------------------------------------------------


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    UNDISCLOSED_AI = "undisclosed_ai", "AI involvement not declared"
    UNDISCLOSED_INTEREST = (
        "undisclosed_interest",
        "Affiliation, pay or conflict of interest not declared",
    )
    WRONG_STANCE = "wrong_stance", "The stance tags misrepresent the reply"
    HARASSMENT = "harassment", "Harassment"
    OFF_TOPIC = "off_topic", "Off topic"
    OTHER = "other", "Something else (say what in the note)"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    HIDDEN = "post_hidden", "Upheld: post hidden"
    DISPUTED = "disclosure_disputed", "Upheld: disclosure disputed"


class ReportQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=ReportStatus.OPEN)


class Report(models.Model):
    """A reader's flag on a post, for moderators to resolve."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports"
    )
    reason = models.CharField(max_length=24, choices=ReportReason.choices)
    note = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)
    status = models.CharField(
        max_length=24, choices=ReportStatus.choices, default=ReportStatus.OPEN
    )
    created = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["post", "reporter"],
                condition=Q(status=ReportStatus.OPEN),
                name="forum_report_one_open_per_reporter",
                violation_error_message="You have already reported this post; "
                "moderators will look at it.",
            ),
            models.CheckConstraint(
                condition=Q(reason__in=ReportReason.values),
                name="forum_report_reason_valid",
                violation_error_message="Choose a reason from the list.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=ReportReason.OTHER) | Q(not_blank("note")),
                name="forum_report_other_has_note",
                violation_error_message="Say what is wrong when the reason is "
                "“something else”.",
            ),
            models.CheckConstraint(
                condition=Q(status=ReportStatus.OPEN, resolved_at__isnull=True)
                | Q(status__in=ReportStatus.values, resolved_at__isnull=False)
                & ~Q(status=ReportStatus.OPEN),
                name="forum_report_resolution_dated",
                violation_error_message="A resolved report records when it was "
                "resolved, and an open one does not.",
            ),
        ]

    def __str__(self):
        return f"{self.get_reason_display()} on post #{self.post_id}"


class ReportedPost(Post):
    """The moderation queue: posts seen through their reports."""

    class Meta:
        proxy = True
        verbose_name = "reported post"
        verbose_name_plural = "report queue"


class SuspensionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(lifted_at__isnull=True, until__gt=timezone.now())


class Suspension(models.Model):
    """A pause on a user's posting, proposing and reporting; reading and signing in go on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="suspensions"
    )
    until = models.DateTimeField(help_text="When the user may post again (UTC).")
    reason = models.TextField(
        max_length=REASON_MAX_LENGTH, help_text="Public: the user and the log show it."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = SuspensionQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(not_blank("reason")),
                name="forum_suspension_reason_not_blank",
                violation_error_message="Give the reason for the suspension.",
            ),
            models.CheckConstraint(
                condition=Q(until__gt=F("created")),
                name="forum_suspension_ends_after_start",
                violation_error_message="A suspension must end in the future.",
            ),
        ]

    def __str__(self):
        return f"{self.user} until {self.until:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None and self.until > timezone.now()


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a moderator"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PositionProposal(Disclosure):
    """A reader's proposed position, disclosed like a reply, until a moderator decides."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="proposals")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals"
    )
    claim = models.CharField(max_length=200)
    summary = models.TextField(max_length=1000, blank=True)
    quote = models.TextField(
        max_length=1000, blank=True, help_text="The article's words it answers."
    )
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    attested_at = models.DateTimeField("disclosure attested at")
    created = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)
    position = models.OneToOneField(
        Position,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="proposal",
    )

    class Meta(Disclosure.Meta):
        ordering = ["-created", "-id"]
        constraints = [
            *Disclosure.Meta.constraints,
            models.CheckConstraint(
                condition=Q(not_blank("claim")),
                name="forum_positionproposal_claim_not_blank",
                violation_error_message="State the claim people would take sides on.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProposalStatus.values),
                name="forum_positionproposal_status_valid",
                violation_error_message="Status must be pending, approved or rejected.",
            ),
            models.CheckConstraint(
                condition=Q(status=ProposalStatus.PENDING, decided_at__isnull=True)
                | ~Q(status=ProposalStatus.PENDING)
                & Q(decided_at__isnull=False)
                & Q(not_blank("decision_reason")),
                name="forum_positionproposal_decision_explained",
                violation_error_message="A decision records when it was made and why.",
            ),
        ]

    def __str__(self):
        return self.claim

    @property
    def disclosure_topic(self) -> Topic:
        return self.topic


class ModerationKind(models.TextChoices):
    """What a moderator did; the labels complete "A moderator …" in the public log."""

    HIDE = "hide", "hid a post"
    RESTORE = "restore", "restored a post"
    LOCK = "lock", "locked a topic"
    UNLOCK = "unlock", "unlocked a topic"
    PIN = "pin", "pinned a topic"
    UNPIN = "unpin", "unpinned a topic"
    DISMISS_REPORTS = "dismiss_reports", "dismissed the reports on a post"
    UPHOLD_REPORTS = "uphold_reports", "upheld the reports on a post"
    DISPUTE_DISCLOSURE = "dispute_disclosure", "disputed a post’s disclosure"
    SUSPEND = "suspend", "suspended a user"
    LIFT_SUSPENSION = "lift_suspension", "lifted a suspension"
    APPROVE_POSITION = "approve_position", "approved a proposed position"
    REJECT_POSITION = "reject_position", "rejected a proposed position"


class ModerationActionQuerySet(models.QuerySet):
    def for_topic(self, topic: Topic):
        return self.filter(topic=topic)

    def for_log_page(self):
        return self.select_related(
            "actor", "topic", "suspension__user", "proposal"
        ).order_by("-created", "-id")


class ModerationAction(models.Model):
    """One line of the public moderation log. Append-only: services create, nothing edits.

    Targets are protected: a topic, post or user the log names cannot be deleted.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the site acted on its own (the report threshold).",
    )
    action = models.CharField(max_length=24, choices=ModerationKind.choices)
    reason = models.TextField(max_length=REASON_MAX_LENGTH)
    created = models.DateTimeField(default=timezone.now)
    topic = models.ForeignKey(
        Topic, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    post = models.ForeignKey(
        Post, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    suspension = models.ForeignKey(
        Suspension, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposal = models.ForeignKey(
        PositionProposal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ModerationActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["topic", "created"], name="forum_modlog_topic")]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ModerationKind.values),
                name="forum_moderationaction_action_valid",
                violation_error_message="Unknown moderation action.",
            ),
            models.CheckConstraint(
                condition=Q(not_blank("reason")),
                name="forum_moderationaction_reason_not_blank",
                violation_error_message="Every moderation action needs a public reason.",
            ),
            models.CheckConstraint(
                condition=Q(topic__isnull=False)
                | Q(post__isnull=False)
                | Q(suspension__isnull=False)
                | Q(proposal__isnull=False),
                name="forum_moderationaction_has_target",
                violation_error_message="A moderation action needs a target.",
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} ({self.created:%Y-%m-%d %H:%M})"
