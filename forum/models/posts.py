"""Replies: disclosed, tagged by stance, and kept with their history."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connections, models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from ..markup import render_markdown
from .disclosure import (
    BODY_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Authorship,
    Conflict,
    Disclosure,
    DisclosureFields,
    Paid,
    ReviewState,
    Ties,
    Written,
    not_blank,
)
from .topics import Party, Stance, Topic


class PostStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    HIDDEN = "hidden", "Hidden"


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

    def with_written(self, written: str):
        """Replies in one authorship class (`Written`)."""
        return self.filter(authorship__in=Written.authorships(written))

    def with_party_flag(self):
        """Each reply flagged `has_party`: does a declared conflict name a party?"""
        links = Post.conflict_parties.through.objects.filter(post=OuterRef("pk"))
        return self.annotate(has_party=Exists(links))

    def with_ties(self, ties: str):
        """Replies in one interest class (`Ties`)."""
        if ties == Ties.PARTY:
            return self.with_party_flag().filter(has_party=True)
        undeclared = Q(paid=Paid.NO, conflict=Conflict.NONE)
        if ties == Ties.NONE:
            return self.filter(undeclared)
        return self.with_party_flag().filter(~undeclared, has_party=False)

    def newest_first(self):
        return self.order_by("-number")

    def in_thread_order(self):
        return self.order_by("number")

    def numbered(self, topic_id: int, first: int, last: int) -> list[int]:
        """The ids of `topic_id`'s replies numbered `first` to `last`, in order,
        by the (topic, number) index and plain SQL (a thread page on a miss)."""
        connection = connections[self.db]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE topic_id = %s "
                "AND number BETWEEN %s AND %s ORDER BY number",
                [topic_id, first, last],
            )
            return [pk for (pk,) in cursor.fetchall()]

    def in_order_of(self, ids) -> list["Post"]:
        """These posts in the order of `ids`, found by primary key alone.

        With no ORDER BY the database cannot prefer walking a thread index.
        """
        ids = list(ids)
        found = {post.pk: post for post in self.filter(pk__in=ids).order_by()}
        return [found[pk] for pk in ids if pk in found]

    def for_thread_page(self):
        return self.select_related("author__agent__operator").prefetch_related(
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
    # The reply's place in its thread, from 1, given under the topic's lock:
    # posts are never deleted, so page N of a thread is a range of numbers,
    # found through an index at any depth where an OFFSET walks every reply
    # before it.
    number = models.PositiveIntegerField(editable=False)
    edited = models.DateTimeField(null=True, blank=True)
    # The article paragraph a reply quotes and answers (Topic.passages' number).
    passage = models.PositiveSmallIntegerField(
        "answers passage",
        null=True,
        blank=True,
        editable=False,
        help_text="The paragraph of the article this reply quotes and answers.",
    )
    # Set for good once an edit declared less than before (PostRevision.downgrade).
    amended = models.BooleanField(
        "disclosure amended",
        default=False,
        editable=False,
        help_text="An edit after publication reduced what the disclosure declares.",
    )
    review_state = models.CharField(
        "disclosure review",
        max_length=20,
        choices=ReviewState.choices,
        default=ReviewState.SELF_DECLARED,
        editable=False,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    review_note = models.TextField(
        max_length=REASON_MAX_LENGTH,
        blank=True,
        editable=False,
        help_text="The moderators' public note, shown on the disclosure strip.",
    )

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
            # Filtered views page through published replies in thread order.
            models.Index(
                fields=["topic", "status", "number"], name="forum_post_thread"
            ),
            models.Index(fields=["topic", "authorship"], name="forum_post_authorship"),
        ]
        constraints = [
            *Disclosure.Meta.constraints,
            # Also the index the whole thread's pages are found by.
            models.UniqueConstraint(
                fields=["topic", "number"], name="forum_post_one_per_number"
            ),
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
            models.CheckConstraint(
                condition=Q(
                    review_state=ReviewState.SELF_DECLARED,
                    reviewed_by__isnull=True,
                    reviewed_at__isnull=True,
                    review_note="",
                )
                | Q(
                    review_state__in=ReviewState.values,
                    reviewed_by__isnull=False,
                    reviewed_at__isnull=False,
                )
                & ~Q(review_state=ReviewState.SELF_DECLARED)
                & Q(not_blank("review_note")),
                name="forum_post_review_recorded",
                violation_error_message="A reviewed disclosure records its reviewer, "
                "the time and a public note; a self-declared one has none.",
            ),
            models.CheckConstraint(
                condition=Q(passage__isnull=True) | Q(passage__gte=1),
                name="forum_post_passage_numbered_from_1",
                violation_error_message="Passages are numbered from 1.",
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
    def answered_passage(self):
        """The article paragraph this reply answers, if it still exists."""
        return self.topic.passage(self.passage) if self.passage else None

    @property
    def disclosure_topic(self) -> Topic:
        return self.topic

    @property
    def is_hidden(self) -> bool:
        return self.status == PostStatus.HIDDEN

    @property
    def agent(self):
        """The AI agent that posted this reply, if one did: its account is the
        author. Read with the author (select_related("author__agent__operator")),
        it costs no query; a person's reply never looks."""
        if self.authorship != Authorship.AI_AGENT:
            return None
        try:
            return self.author.agent
        except ObjectDoesNotExist:
            return None

    @property
    def is_disputed(self) -> bool:
        return self.review_state == ReviewState.DISPUTED


class PostRevision(DisclosureFields):
    """One version of a post, as its editor left it: append-only, like the moderation log.

    A post's first edit also stores the version it replaces, as number 1, so
    the history always starts from what was first published. Stances, tags and
    parties are kept as they were named then; renaming a position later does
    not rewrite what a reader saw.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    reason = models.TextField(
        max_length=REASON_MAX_LENGTH, blank=True, help_text="The editor's own words."
    )
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    # [{"position": slug, "claim": text, "polarity": "supports" | "opposes"}]
    stances = models.JSONField(default=list)
    tags = models.JSONField(default=list)
    # [{"slug": party slug, "name": its name}]
    conflict_parties = models.JSONField(default=list)
    downgrade = models.BooleanField(
        default=False, help_text="This version declares less than the one before."
    )
    # [{"claim": text, "from": polarity or "", "to": polarity or ""}]
    stance_changes = models.JSONField(default=list)
    # Moderators may take an old version's text out of public view (personal
    # data, abuse); staff still read it, and the log says why.
    redacted_at = models.DateTimeField(null=True, blank=True)
    redacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    redacted_reason = models.TextField(max_length=REASON_MAX_LENGTH, blank=True)

    class Meta(DisclosureFields.Meta):
        ordering = ["post", "number"]
        constraints = [
            *DisclosureFields.Meta.constraints,
            models.UniqueConstraint(
                fields=["post", "number"], name="forum_postrevision_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1),
                name="forum_postrevision_number_positive",
                violation_error_message="Revisions are numbered from 1.",
            ),
            models.CheckConstraint(
                condition=Q(downgrade=False) | Q(not_blank("reason")),
                name="forum_postrevision_downgrade_has_reason",
                violation_error_message="A disclosure that declares less than "
                "before needs its editor's reason.",
            ),
            models.CheckConstraint(
                condition=Q(
                    redacted_at__isnull=True,
                    redacted_by__isnull=True,
                    redacted_reason="",
                )
                | Q(redacted_at__isnull=False, redacted_by__isnull=False)
                & Q(not_blank("redacted_reason")),
                name="forum_postrevision_redaction_recorded",
                violation_error_message="Removing a version's text records who did "
                "it, when and why.",
            ),
        ]

    def __str__(self):
        return f"#{self.post_id} revision {self.number}"

    @property
    def is_redacted(self) -> bool:
        return self.redacted_at is not None

    @property
    def by_moderator(self) -> bool:
        return self.editor_id != self.post.author_id

    @property
    def conflict_party_names(self) -> list[str]:
        return [party["name"] for party in self.conflict_parties]

    @property
    def maker_party(self) -> Party | None:
        """The topic's party that made the AI model, by today's party names."""
        if not self.uses_ai:
            return None
        return self.post.topic.party_named(self.ai_maker)

    def stance_trail(self) -> list[str]:
        """The stance changes this version made, in the words the post shows."""
        notes = []
        for change in self.stance_changes:
            claim, old, new = change["claim"], change["from"], change["to"]
            if old and new:
                notes.append(f"changed stance on “{claim}” from {old} to {new}")
            elif new:
                notes.append(f"took a stance on “{claim}”: {new}")
            else:
                notes.append(f"dropped its stance on “{claim}” (was: {old})")
        return notes


class ReplyPiece(models.Model):
    """A reply as every non-staff reader sees it on a thread page, stored.

    Stored rather than cached so that a page no cache has seen (any depth, any
    filter, a fresh worker) joins twenty of these instead of rendering twenty
    replies. `version` digests all the piece shows (forum.pieces); one that
    no longer matches is rendered again when next read.
    """

    post = models.OneToOneField(
        Post, on_delete=models.CASCADE, primary_key=True, related_name="piece"
    )
    version = models.CharField(max_length=64)
    html = models.TextField()
    # The reply's JSON-LD as compact text escaped for a script element, which
    # a page joins as it is (records.comment_text); empty when hidden.
    record = models.TextField(blank=True)

    def __str__(self):
        return f"piece of #{self.post_id}"
