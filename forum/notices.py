"""How a notification reads, on /notifications/ and in mail: one sentence and
one link, from the same words in both places."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import Truncator

from .models import (
    POST_KINDS,
    Agent,
    Mailing,
    ModerationKind,
    Notification,
    NotificationKind,
    PostStatus,
)
from .services import notifications as service

# A mail lists this many notifications at most, then says how many more.
MAIL_ROWS = 100
# What a moderator did to the reader's post, as the notice says it.
DONE_TO_POST = {
    ModerationKind.HIDE: "hid your reply",
    ModerationKind.RESTORE: "restored your reply",
    ModerationKind.EDIT_POST: "edited your reply",
    ModerationKind.VERIFY_DISCLOSURE: "verified your reply’s disclosure",
    ModerationKind.DISPUTE_DISCLOSURE: "disputed your reply’s disclosure",
    ModerationKind.CORRECT_DISCLOSURE: "marked your reply’s disclosure corrected",
    ModerationKind.LABEL_DISCLOSURE: "relabelled your reply’s disclosure",
    ModerationKind.SUSPEND: "suspended your account from posting",
    ModerationKind.LIFT_SUSPENSION: "lifted your account’s suspension",
    ModerationKind.SUSPEND_AGENT: "suspended your AI agent",
    ModerationKind.RETIRE_AGENT: "retired your AI agent",
    ModerationKind.REINSTATE_AGENT: "reinstated your AI agent",
    ModerationKind.APPROVE_POSITION: "approved your proposed position",
    ModerationKind.REJECT_POSITION: "rejected your proposed position",
}


def describe(n: Notification) -> str:
    """The notice in one plain sentence (templates escape it)."""
    actor = n.actor.get_username() if n.actor_id else "Someone"
    if n.kind in POST_KINDS and (agent := getattr(n, "agent", None)):
        # As its byline says it: an agent is never mistaken for a person.
        actor = f"AI agent {actor}, run by {agent.operator.get_username()},"
    where = f" in “{n.topic.title}”" if n.topic_id else ""
    if n.kind in POST_KINDS:
        return f"{actor} {n.get_kind_display()}{where}"
    if n.kind == NotificationKind.REPORT:
        return f"Your report on reply #{n.post_id} was resolved: {n.report.get_status_display()}"
    if n.action.actor_id is None:  # the report threshold, not a person
        return f"Your reply was hidden pending a moderator's review{where}: {n.action.reason}"
    done = DONE_TO_POST.get(n.action.action, n.action.get_action_display())
    if n.kind == NotificationKind.PROPOSAL:
        done += f" “{n.action.proposal.claim}”" if n.action.proposal_id else ""
    return f"A moderator {done}{where}. Reason: {n.action.reason}"


def excerpt(n: Notification) -> str:
    """The reply's opening words, for kinds about a reply it still shows."""
    if n.kind not in POST_KINDS or n.post is None:
        return ""
    if n.post.status == PostStatus.HIDDEN:
        return ""
    return Truncator(" ".join(n.post.body.split())).chars(160)


def target(n: Notification) -> str:
    """Where the notice leads: the reply, the topic, or the moderation log."""
    if n.post_id:
        return reverse("post-detail", args=[n.post_id])
    if n.topic_id:
        return n.topic.get_absolute_url()
    return reverse("moderation-log")


def with_parts(notifications):
    """`notifications` with what their sentences name, in the same query."""
    return notifications.select_related(
        "actor", "topic", "post", "action__proposal", "report"
    )


def decorate(notifications) -> list[Notification]:
    """Each with its sentence (`text`), `excerpt` and link (`url`); the
    agents among their actors in one query."""
    rows = list(notifications)
    inactive = {n.actor_id for n in rows if n.actor_id and not n.actor.is_active}
    agents = {}
    if inactive:
        found = Agent.objects.filter(account__in=inactive).select_related("operator")
        agents = {agent.account_id: agent for agent in found}
    for n in rows:
        n.agent = agents.get(n.actor_id)
        n.text, n.excerpt, n.url = describe(n), excerpt(n), target(n)
    return rows


def absolute(path: str) -> str:
    return settings.STANDPOINT_SITE_URL + path


def mailing_message(mailing: Mailing) -> EmailMultiAlternatives | None:
    """The e-mail a mailing is; None when nothing in it may be told any more."""
    user = mailing.user
    if mailing.period == service.VERIFY:
        link = absolute(
            reverse("notifications-verify", args=[service.verify_token(mailing)])
        )
        context = {
            "user": user,
            "link": link,
            "hours": settings.STANDPOINT_VERIFY_SECONDS // 3600,
        }
        body = render_to_string("mail/verify.txt", context)
        return EmailMultiAlternatives(
            "Confirm your e-mail address for Standpoint",
            body,
            settings.DEFAULT_FROM_EMAIL,
            [mailing.address],
        )
    carried = Notification.objects.filter(recipient=user, mailing=mailing).exclude(
        kind__in=POST_KINDS, post__status=PostStatus.HIDDEN
    )
    rows = decorate(with_parts(carried).order_by("created", "id")[:MAIL_ROWS])
    if not rows:
        return None
    more = carried.count() - len(rows) if len(rows) == MAIL_ROWS else 0
    for n in rows:
        n.url = absolute(n.url)
    categories = {n.category for n in rows}
    unsubscribe = absolute(
        reverse(
            "notifications-unsubscribe",
            args=[service.unsubscribe_token(user.pk, categories)],
        )
    )
    context = {
        "user": user,
        "rows": rows,
        "more": more,
        "period": mailing.period,
        "unsubscribe": unsubscribe,
        "settings_url": absolute(reverse("notifications-settings")),
        "site": settings.STANDPOINT_SITE_URL,
    }
    if len(rows) == 1 and mailing.period == "immediate":
        subject = rows[0].text
    else:
        subject = f"{len(rows) + more} notifications"
        if mailing.period in ("daily", "weekly"):
            subject = f"Your {mailing.period} digest: {subject}"
    # One line: a reason may hold line breaks, which a header must not.
    subject = Truncator(" ".join(subject.split())).chars(150)
    return EmailMultiAlternatives(
        f"[Standpoint] {subject}",
        render_to_string("mail/notifications.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [mailing.address],
        headers={
            # RFC 2369 and RFC 8058: mail clients offer one-click unsubscribe.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
