"""What brings readers back: where each stands with a topic (watching, how far
read), what the site tells them, and how they want it mailed.

Notifications are made by background tasks (forum.tasks), never in the
request that caused them, and each is keyed on what it is about: making it
again is a no-op, so a task run twice tells nobody twice.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .moderation import ModerationAction, Report
from .posts import Post
from .topics import Topic


class WatchLevel(models.TextChoices):
    WATCHING = "watching", "Watching: every new reply"
    TRACKING = "tracking", "Tracking: replies to me, quotes of me, mentions"
    MUTED = "muted", "Muted: nothing from this topic"


class TopicReader(models.Model):
    """One reader and one topic: how closely they follow it, and how far they read.

    `level` empty is the default: tracking. Posting in a topic sets tracking;
    `last_read` is the highest reply number a page they read showed.
    """

    # Indexed by the constraint and the index below, which lead with them.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    level = models.CharField(max_length=10, choices=WatchLevel.choices, blank=True)
    last_read = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "topic"], name="forum_topicreader_once"
            ),
            models.CheckConstraint(
                condition=Q(level="") | Q(level__in=WatchLevel.values),
                name="forum_topicreader_level_valid",
                violation_error_message="Choose watching, tracking or muted.",
            ),
        ]
        # The fan-out reads a topic's watchers by level.
        indexes = [models.Index(fields=["topic", "level"], name="forum_reader_level")]

    def __str__(self):
        return f"{self.user} in {self.topic}: {self.effective_level}"

    @property
    def effective_level(self) -> str:
        return self.level or WatchLevel.TRACKING


class NotificationKind(models.TextChoices):
    REPLY = "reply", "replied to you"
    QUOTE = "quote", "quoted you"
    MENTION = "mention", "mentioned you"
    WATCHED = "watched", "replied in a topic you watch"
    MODERATION = "moderation", "moderators acted on your post"
    REPORT = "report", "your report was resolved"
    PROPOSAL = "proposal", "your proposed position was decided"
    SUSPENSION = "suspension", "your account"


# Kinds about someone's reply: a hidden reply tells no one of itself, and a
# reader can block the author's.
POST_KINDS = frozenset(
    {
        NotificationKind.REPLY,
        NotificationKind.QUOTE,
        NotificationKind.MENTION,
        NotificationKind.WATCHED,
    }
)


class MailChoice(models.TextChoices):
    NONE = "none", "No e-mail"
    IMMEDIATE = "immediate", "At once"
    DAILY = "daily", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"


DIGEST_PERIODS = {MailChoice.DAILY: timedelta(days=1), MailChoice.WEEKLY: timedelta(7)}


class MailCategory(models.TextChoices):
    """What a reader chooses mail for; each notification kind is in one."""

    REPLIES = "replies", "Replies to me and quotes of me"
    MENTIONS = "mentions", "Mentions of me"
    WATCHED = "watched", "New replies in topics I watch"
    MODERATION = "moderation", "Moderators' actions on my posts and my account"
    REPORTS = "reports", "My reports resolved"
    PROPOSALS = "proposals", "My proposed positions decided"


CATEGORY_OF = {
    NotificationKind.REPLY: MailCategory.REPLIES,
    NotificationKind.QUOTE: MailCategory.REPLIES,
    NotificationKind.MENTION: MailCategory.MENTIONS,
    NotificationKind.WATCHED: MailCategory.WATCHED,
    NotificationKind.MODERATION: MailCategory.MODERATION,
    NotificationKind.SUSPENSION: MailCategory.MODERATION,
    NotificationKind.REPORT: MailCategory.REPORTS,
    NotificationKind.PROPOSAL: MailCategory.PROPOSALS,
}
KINDS_OF = {
    category: [kind for kind, c in CATEGORY_OF.items() if c == category]
    for category in MailCategory
}
MAIL_DEFAULTS = {
    MailCategory.REPLIES: MailChoice.DAILY,
    MailCategory.MENTIONS: MailChoice.DAILY,
    MailCategory.WATCHED: MailChoice.NONE,
    MailCategory.MODERATION: MailChoice.DAILY,
    MailCategory.REPORTS: MailChoice.DAILY,
    MailCategory.PROPOSALS: MailChoice.DAILY,
}


class Mailing(models.Model):
    """One e-mail to one reader: the notifications it carries point at it.

    Made (and its notifications claimed) in one transaction, sent once: a
    notification belongs to one mailing at most, so no two mails carry it,
    and every notification not yet claimed waits for the next, however late.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # "immediate", "daily", "weekly"; "verify" for an address's check;
    # "skipped" for notifications made before their reader wanted mail.
    period = models.CharField(max_length=10)
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    address = models.EmailField(blank=True)

    def __str__(self):
        return f"{self.period} mail to {self.address}"


def about(model, on_delete=models.CASCADE) -> models.ForeignKey:
    """What a notification may be about: optional, and not indexed (below)."""
    return models.ForeignKey(
        model,
        on_delete=on_delete,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )


class Notification(models.Model):
    """Something a reader is told, once.

    Only the recipient's columns are indexed: a reply in a watched topic
    writes a row per watcher, and every other index is paid on each. The
    rare delete of a post, topic or account finds its rows by a scan.
    """

    # Its indexes below lead with it.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    # What it is about, once per recipient: "post:<id>", "action:<id>",
    # "report:<id>". A reply that both answers and mentions someone tells
    # them once, as its most specific kind.
    key = models.CharField(max_length=40)
    created = models.DateTimeField(default=timezone.now)
    actor = about(settings.AUTH_USER_MODEL)
    topic = about(Topic)
    post = about(Post)
    action = about(ModerationAction)
    report = about(Report)
    read_at = models.DateTimeField(null=True, blank=True)
    # Protected: a mailing's deletion must never free its notifications to be
    # mailed again (services.notifications.mailing_release gives them back).
    mailing = about(Mailing, on_delete=models.PROTECT)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "key"], name="forum_notification_once"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values),
                name="forum_notification_kind_valid",
                violation_error_message="Unknown kind of notification.",
            ),
        ]
        # As few as the pages need: a reply in a watched topic writes a row
        # per watcher. The list (and a mailing's claim, bounded in time) reads
        # a reader's by date; every signed-in page counts their unread.
        indexes = [
            models.Index(fields=["recipient", "-created"], name="forum_notif_list"),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="forum_notif_unread",
            ),
        ]

    def __str__(self):
        return f"{self.recipient}: {self.get_kind_display()} ({self.key})"

    @property
    def category(self) -> str:
        return CATEGORY_OF[self.kind]


class MailSettings(models.Model):
    """A reader's e-mail address and what they want mailed, per category."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail"
    )
    email = models.EmailField(blank=True, help_text="Verified: mail goes here.")
    verified_at = models.DateTimeField(null=True, blank=True)
    replies = models.CharField(
        max_length=10, choices=MailChoice.choices, default=MAIL_DEFAULTS["replies"]
    )
    mentions = models.CharField(
        max_length=10, choices=MailChoice.choices, default=MAIL_DEFAULTS["mentions"]
    )
    watched = models.CharField(
        max_length=10, choices=MailChoice.choices, default=MAIL_DEFAULTS["watched"]
    )
    moderation = models.CharField(
        max_length=10, choices=MailChoice.choices, default=MAIL_DEFAULTS["moderation"]
    )
    reports = models.CharField(
        max_length=10, choices=MailChoice.choices, default=MAIL_DEFAULTS["reports"]
    )
    proposals = models.CharField(
        max_length=10, choices=MailChoice.choices, default=MAIL_DEFAULTS["proposals"]
    )
    # When each digest is next due; a missed run sends it at the next tick.
    daily_due = models.DateTimeField(null=True, blank=True)
    weekly_due = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "mail settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    **{f"{c}__in": MailChoice.values for c in MailCategory.values}
                ),
                name="forum_mailsettings_choices_valid",
                violation_error_message="Choose none, at once, daily or weekly.",
            ),
        ]

    def __str__(self):
        return f"Mail settings of {self.user}"

    def choice(self, category: str) -> str:
        return getattr(self, category)

    def kinds_mailed(self, period: str) -> list[str]:
        """The notification kinds this reader wants mailed as `period`."""
        return [
            k for c in MailCategory for k in KINDS_OF[c] if self.choice(c) == period
        ]


class Block(models.Model):
    """A reader's refusal to be notified of another's replies and mentions."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "blocked"], name="forum_block_once"
            ),
            models.CheckConstraint(
                condition=~Q(user=models.F("blocked")),
                name="forum_block_not_self",
                violation_error_message="You cannot block yourself.",
            ),
        ]

    def __str__(self):
        return f"{self.user} blocks {self.blocked}"
