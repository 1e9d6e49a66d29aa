"""What moderators do to posts and topics, each with a public reason in the log.

Every action here writes a ModerationAction per thing it changed, in the same
transaction as the change, and nothing for what was already so.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from .. import search
from ..models import (
    ModerationAction,
    ModerationKind,
    Post,
    PostRevision,
    PostStatus,
    Report,
    ReportStatus,
    ReviewState,
    Topic,
)
from .guards import locked_rows
from .notifications import later
from .tallies import tallied, topics_touch
from .validation import validate_reason


def record(actions: Iterable[ModerationAction]) -> list[ModerationAction]:
    """Write log lines; once they commit, a task tells whom they concern."""
    made = ModerationAction.objects.bulk_create(actions)
    if made:
        later("actions_logged", [action.pk for action in made])
    return made


def log(
    actor: AbstractBaseUser | None,
    kind: str,
    reason: str,
    posts: Iterable[tuple[int, int]],
) -> None:
    """One log line per (post id, topic id) in `posts`; `actor` None is the site."""
    record(
        ModerationAction(
            actor=actor, action=kind, reason=reason, post_id=pk, topic_id=topic_id
        )
        for pk, topic_id in posts
    )


@transaction.atomic
def posts_set_status(
    *, posts: QuerySet[Post], status: str, actor: AbstractBaseUser | None, reason: str
) -> int:
    """Hide or restore posts, logged; a hidden post leaves a tombstone with the reason.

    `actor` None is the site itself (the report threshold). A moderator hiding
    a post the site hid takes it over: their reason replaces the site's.
    """
    reason = validate_reason(reason)
    locked = locked_rows(posts)
    hiding = status == PostStatus.HIDDEN
    if hiding and actor is not None:
        held = hidden_by_threshold(locked.filter(status=status))
        locked = locked.filter(Q(pk__in=held) | ~Q(status=status))
    else:
        locked = locked.exclude(status=status)
    changing = list(locked.values_list("pk", "topic_id"))
    ids = [pk for pk, _ in changing]
    with tallied(Post.objects.filter(pk__in=ids)):
        Post.objects.filter(pk__in=ids).update(
            status=status, hidden_reason=reason if hiding else ""
        )
    kind = ModerationKind.HIDE if hiding else ModerationKind.RESTORE
    log(actor, kind, reason, changing)
    if not hiding:
        _dismiss_reports_on_restore(ids, actor=actor, reason=reason)
    return len(changing)


def _dismiss_reports_on_restore(
    ids: list[int], *, actor: AbstractBaseUser | None, reason: str
) -> None:
    """A restored post starts afresh: the reports that hid it must not, with one
    more, hide it again at once."""
    reported = list(
        Post.objects.filter(pk__in=ids, reports__status=ReportStatus.OPEN)
        .distinct()
        .values_list("pk", "topic_id")
    )
    closing = Report.objects.open().filter(post__in=ids)
    reports_closed(list(closing.values_list("pk", flat=True)))
    closing.update(
        status=ReportStatus.DISMISSED, resolved_by=actor, resolved_at=timezone.now()
    )
    log(actor, ModerationKind.DISMISS_REPORTS, reason, reported)


def reports_closed(report_ids: list[int]) -> None:
    """Once they commit, a task tells the readers who filed them."""
    if report_ids:
        later("reports_resolved", report_ids)


def hidden_by_threshold(posts: QuerySet[Post]) -> list[int]:
    """Those of `posts` whose latest hiding was the site's, not a moderator's."""
    latest = (
        ModerationAction.objects.filter(
            post_id=OuterRef("pk"), action=ModerationKind.HIDE
        )
        .order_by("-created", "-id")
        .values("actor_id")[:1]
    )
    held = Post.objects.filter(pk__in=list(posts.values_list("pk", flat=True)))
    held = held.annotate(hider=Subquery(latest))
    return list(held.filter(hider__isnull=True).values_list("pk", flat=True))


TOPIC_FLAG_ACTIONS = {
    ("is_locked", True): ModerationKind.LOCK,
    ("is_locked", False): ModerationKind.UNLOCK,
    ("is_pinned", True): ModerationKind.PIN,
    ("is_pinned", False): ModerationKind.UNPIN,
}


@transaction.atomic
def topics_set_flag(
    *,
    topics: QuerySet[Topic],
    flag: str,
    value: bool,
    actor: AbstractBaseUser,
    reason: str,
) -> int:
    """Lock, unlock, pin or unpin topics, logging each one that changes."""
    kind = TOPIC_FLAG_ACTIONS[flag, value]
    reason = validate_reason(reason)
    changing = list(
        locked_rows(topics).exclude(**{flag: value}).values_list("pk", flat=True)
    )
    now = timezone.now()
    Topic.objects.filter(pk__in=changing).update(
        **{flag: value}, updated=now, revised=now
    )
    record(
        ModerationAction(actor=actor, action=kind, reason=reason, topic_id=pk)
        for pk in changing
    )
    return len(changing)


REVIEW_ACTIONS = {
    ReviewState.SELF_DECLARED: ModerationKind.CLEAR_REVIEW,
    ReviewState.VERIFIED: ModerationKind.VERIFY_DISCLOSURE,
    ReviewState.DISPUTED: ModerationKind.DISPUTE_DISCLOSURE,
    ReviewState.CORRECTED: ModerationKind.CORRECT_DISCLOSURE,
}


@transaction.atomic
def posts_review(
    *, posts: QuerySet[Post], state: str, actor: AbstractBaseUser, note: str
) -> int:
    """Give the disclosures of `posts` a review state with a public note, logged.

    A moderator's label comes with their edit of the disclosure (post_edit),
    never on its own: the strip would claim a change that was not made.
    """
    if state not in REVIEW_ACTIONS:
        raise ValidationError(
            "A label is added by editing the post’s disclosure.", code="review_invalid"
        )
    note = validate_reason(note, name="note")
    locked = locked_rows(posts).exclude(review_state=state, review_note=note)
    if state == ReviewState.SELF_DECLARED:
        locked = locked.exclude(review_state=state)
    ids = list(locked.values_list("pk", flat=True))
    _check_review(ids, state=state, actor=actor)
    changing = list(Post.objects.filter(pk__in=ids).values_list("pk", "topic_id"))
    reviewed = state != ReviewState.SELF_DECLARED
    Post.objects.filter(pk__in=[pk for pk, _ in changing]).update(
        review_state=state,
        review_note=note if reviewed else "",
        reviewed_by=actor if reviewed else None,
        reviewed_at=timezone.now() if reviewed else None,
    )
    log(actor, REVIEW_ACTIONS[state], note, changing)
    # A review moves no reply between segments, but the strip shows it.
    topics_touch(topic_ids={topic_id for _, topic_id in changing})
    return len(changing)


def _check_review(ids: list[int], *, state: str, actor: AbstractBaseUser) -> None:
    if Post.objects.filter(pk__in=ids, author=actor).exists():
        raise ValidationError(
            "You cannot review the disclosure of your own post; another moderator must.",
            code="own_post",
        )
    if state == ReviewState.SELF_DECLARED and relabelled(ids):
        # Some of the disclosure is the moderators' words, not the author's.
        raise ValidationError(
            "A disclosure moderators have relabelled cannot go back to self-declared: "
            "it would pass their words off as the author's. Verify or dispute it "
            "instead.",
            code="review_labelled",
        )


def relabelled(post_ids: Iterable[int]) -> bool:
    """Whether moderators ever changed any of these posts' disclosures themselves."""
    return ModerationAction.objects.filter(
        post__in=list(post_ids), action=ModerationKind.LABEL_DISCLOSURE
    ).exists()


@transaction.atomic
def revisions_redact(
    *, revisions: QuerySet[PostRevision], actor: AbstractBaseUser, reason: str
) -> int:
    """Take earlier versions' text out of public view, logged; staff still read it.

    For personal data or abuse a moderator edited out of a post: the history
    would otherwise keep publishing it. A post's latest version is its own
    text, which an edit or a hide deals with.
    """
    reason = validate_reason(reason)
    rows = list(
        locked_rows(revisions)
        .filter(redacted_at__isnull=True)
        .values_list("pk", "post_id", "number")
    )
    posts = {post for _, post, _ in rows}
    latest = dict(
        PostRevision.objects.filter(post__in=posts)
        .values("post")
        .annotate(last=Max("number"))
        .values_list("post", "last")
    )
    if any(number == latest[post] for _, post, number in rows):
        raise ValidationError(
            "A post’s latest version is the text the thread shows: edit the post (or "
            "hide it) first, then remove the earlier version.",
            code="redact_latest",
        )
    PostRevision.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
        redacted_at=timezone.now(), redacted_by=actor, redacted_reason=reason
    )
    topic_of = dict(Post.objects.filter(pk__in=posts).values_list("pk", "topic"))
    targets = [(post, topic_of[post]) for _, post, _ in rows]
    log(actor, ModerationKind.REDACT_REVISION, reason, targets)
    # Only current text is indexed, which a redaction leaves alone; keep the
    # entries in step all the same, as after every change to a post.
    search.reindex(posts)
    return len(rows)
