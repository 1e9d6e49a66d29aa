"""Readers' reports, and moderators' verdicts on them.

Enough distinct readers hide a post until a moderator reviews it; the review
closes the reports with one outcome and undoes what the threshold did where
the text stands.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import ModerationKind, Post, PostStatus, Report, ReportStatus, ReviewState
from .guards import locked_rows, require_not_suspended
from .moderation import (
    hidden_by_threshold,
    log,
    posts_review,
    posts_set_status,
    reports_closed,
)
from .validation import validate_reason, validate_report


@transaction.atomic
def report_create(
    *, post: Post, reporter: AbstractBaseUser, reason: str, note: str = ""
) -> Report:
    """File a reader's report; enough distinct reporters hide the post pending review."""
    require_not_suspended(reporter)
    # Lock the post: concurrent reports then count each other exactly once.
    post = locked_rows(Post.objects.filter(pk=post.pk)).get()
    if post.author_id == reporter.pk:
        raise ValidationError("You cannot report your own post.", code="own_post")
    if post.status == PostStatus.HIDDEN:
        raise ValidationError(
            "Moderators have already hidden this post.", code="post_hidden"
        )
    if post.reports.open().filter(reporter=reporter).exists():
        raise ValidationError(
            "You have already reported this post; moderators will look at it.",
            code="already_reported",
        )
    validate_report(reason=reason, note=note)
    report = Report(post=post, reporter=reporter, reason=reason, note=note.strip())
    report.full_clean(exclude=["post", "reporter"], validate_constraints=False)
    report.save()
    _hide_past_threshold(post)
    return report


def _hide_past_threshold(post: Post) -> None:
    # Readers whose report on this post a moderator dismissed (or a restore
    # closed) still reach the queue, but no longer count towards hiding it:
    # the same readers must not undo a review at once.
    overruled = post.reports.filter(status=ReportStatus.DISMISSED).values("reporter")
    reporters = (
        post.reports.open()
        .exclude(reporter__in=overruled)
        .values("reporter")
        .distinct()
        .count()
    )
    if reporters >= settings.STANDPOINT_REPORT_THRESHOLD:
        posts_set_status(
            posts=Post.objects.filter(pk=post.pk),
            status=PostStatus.HIDDEN,
            actor=None,
            reason=f"Hidden automatically pending review: {reporters} readers "
            "reported it.",
        )


@transaction.atomic
def reports_resolve(
    *, posts: QuerySet[Post], outcome: str, actor: AbstractBaseUser, reason: str
) -> int:
    """Close the open reports on `posts` with one outcome, logged; returns reports closed.

    A post the report threshold hid is under review until this: upholding
    puts the moderator's reason on its tombstone; dismissing, or disputing
    only its disclosure (a verdict the log records), restores it.
    """
    reason = validate_reason(reason)
    targets = list(locked_rows(posts).values_list("pk", "topic_id"))
    ids = [pk for pk, _ in targets]
    open_reports = Report.objects.open().filter(post__in=ids)
    closing = list(open_reports.values_list("pk", "post_id"))
    reported = {post_id for _, post_id in closing}
    reports_closed([pk for pk, _ in closing])
    closed = open_reports.update(
        status=outcome, resolved_by=actor, resolved_at=timezone.now()
    )
    verdict = (
        ModerationKind.DISMISS_REPORTS
        if outcome == ReportStatus.DISMISSED
        else ModerationKind.UPHOLD_REPORTS
    )
    log(actor, verdict, reason, [(pk, t) for pk, t in targets if pk in reported])
    chosen = Post.objects.filter(pk__in=ids)
    if outcome == ReportStatus.HIDDEN:
        posts_set_status(
            posts=chosen, status=PostStatus.HIDDEN, actor=actor, reason=reason
        )
        return closed
    if outcome == ReportStatus.DISPUTED:
        posts_review(posts=chosen, state=ReviewState.DISPUTED, actor=actor, note=reason)
    # The text stands (dismissed) or only its disclosure is in question
    # (disputed): a post the threshold hid pending this review comes back.
    held = hidden_by_threshold(chosen.filter(status=PostStatus.HIDDEN))
    posts_set_status(
        posts=Post.objects.filter(pk__in=held),
        status=PostStatus.PUBLISHED,
        actor=actor,
        reason=reason,
    )
    return closed


@transaction.atomic
def reports_dismiss_and_verify(
    *, posts: QuerySet[Post], actor: AbstractBaseUser, reason: str
) -> int:
    """Dismiss the reports on `posts` and verify their disclosures, with one reason."""
    closed = reports_resolve(
        posts=posts, outcome=ReportStatus.DISMISSED, actor=actor, reason=reason
    )
    posts_review(posts=posts, state=ReviewState.VERIFIED, actor=actor, note=reason)
    return closed
