"""Replies: disclosed, tagged by stance, and kept with their history."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from ..markup import render_markdown
from .disclosure import BODY_MAX_LENGTH, REASON_MAX_LENGTH, Disclosure, not_blank
from .topics import Stance, Topic


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
