"""Reports, suspensions, proposed positions and the public moderation log."""

from datetime import UTC

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .disclosure import REASON_MAX_LENGTH, Disclosure, not_blank
from .posts import Post
from .topics import Position, Topic


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

    @property
    def message(self) -> str:
        """What the suspended user reads wherever they are refused, in these words."""
        until = self.until.astimezone(UTC)
        return (
            f"Your account is suspended from posting and reporting until "
            f"{until.day} {until:%B %Y, %H:%M} UTC. Moderators gave this reason: "
            f"{self.reason}"
        )


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
    EDIT_POST = "edit_post", "edited a post"
    VERIFY_DISCLOSURE = "verify_disclosure", "verified a post’s disclosure"
    DISPUTE_DISCLOSURE = "dispute_disclosure", "disputed a post’s disclosure"
    CORRECT_DISCLOSURE = "correct_disclosure", "marked a post’s disclosure corrected"
    LABEL_DISCLOSURE = "label_disclosure", "relabelled a post’s disclosure"
    CLEAR_REVIEW = "clear_review", "cleared the review of a post’s disclosure"
    REDACT_REVISION = (
        "redact_revision",
        "removed an earlier version’s text from a post’s history",
    )
    SUSPEND = "suspend", "suspended a user"
    LIFT_SUSPENSION = "lift_suspension", "lifted a suspension"
    APPROVE_POSITION = "approve_position", "approved a proposed position"
    REJECT_POSITION = "reject_position", "rejected a proposed position"
    SUSPEND_AGENT = "suspend_agent", "suspended an AI agent"
    RETIRE_AGENT = "retire_agent", "retired an AI agent"
    REINSTATE_AGENT = "reinstate_agent", "reinstated an AI agent"


class ModerationActionQuerySet(models.QuerySet):
    def for_topic(self, topic: Topic):
        return self.filter(topic=topic)

    def for_log_page(self):
        return self.select_related(
            "actor",
            "topic",
            "suspension__user",
            "proposal",
            "agent__account",
            "agent__operator",
            "post__author__agent__operator",
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
    agent = models.ForeignKey(
        "forum.Agent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
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
                | Q(proposal__isnull=False)
                | Q(agent__isnull=False),
                name="forum_moderationaction_has_target",
                violation_error_message="A moderation action needs a target.",
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} ({self.created:%Y-%m-%d %H:%M})"
