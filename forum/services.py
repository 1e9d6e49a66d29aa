"""The rules of Standpoint and every write to topics and posts.

Validators come first: forms call them in `clean()` so people see each problem
next to its field, and the services call them again inside the transaction, so
the admin, the seeder and the shell are held to the same rules as the site.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Count,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from .models import (
    AUTHORSHIP_RANK,
    INTERESTS_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Authorship,
    Conflict,
    DisclosureDefaults,
    ModerationAction,
    ModerationKind,
    Paid,
    Party,
    Polarity,
    Position,
    PositionProposal,
    Post,
    PostRevision,
    PostStance,
    PostStatus,
    ProposalStatus,
    Report,
    ReportReason,
    ReportStatus,
    ReviewState,
    Stance,
    Suspension,
    Topic,
)

KEYWORD_MAX_LENGTH = 50
KEYWORDS_MAX = 10
MODERATORS_GROUP = "Moderators"
LOCKED_MESSAGE = "This topic is locked: it takes no new replies."
DISCLOSURE_TEXT_FIELDS = (
    "authorship", "ai_model", "ai_maker", "affiliation", "paid", "paid_by",
    "conflict", "conflict_details",
)  # fmt: skip


def validate_disclosure(
    *,
    topic: Topic,
    authorship: str,
    ai_model: str,
    ai_maker: str,
    affiliation: str,
    paid: str,
    paid_by: str,
    conflict: str,
    conflict_parties: Iterable[Party],
    conflict_details: str,
) -> None:
    """Reject a disclosure that leaves out who wrote it, who pays, or whose interest it serves."""
    errors: dict[str, ValidationError] = {}

    def fail(name: str, message: str, code: str) -> None:
        errors.setdefault(name, ValidationError(message, code=code))

    if authorship not in Authorship.values:
        fail("authorship", "Say who wrote this post.", "authorship_required")
    elif authorship == Authorship.HUMAN:
        if ai_model.strip() or ai_maker.strip():
            message = (
                "Leave the AI model and maker empty for a human-written post, "
                "or choose how AI was involved."
            )
            fail(
                "ai_model" if ai_model.strip() else "ai_maker", message, "ai_unexpected"
            )
    else:
        if not ai_model.strip():
            fail(
                "ai_model",
                "Name the AI model you used, e.g. “Claude”.",
                "ai_model_required",
            )
        if not ai_maker.strip():
            fail(
                "ai_maker",
                "Name the company or group that made the AI model, e.g. “Anthropic”.",
                "ai_maker_required",
            )

    if not affiliation.strip():
        fail(
            "affiliation",
            "Give your relevant employer or organisation, or write “none”.",
            "affiliation_required",
        )

    if paid not in Paid.values:
        fail("paid", "Say whether you are paid to post on this.", "paid_required")
    elif paid == Paid.NO and paid_by.strip():
        fail(
            "paid_by",
            "Leave “paid by” empty when you are not paid, or change your answer above.",
            "paid_by_unexpected",
        )
    elif paid != Paid.NO and not paid_by.strip():
        fail(
            "paid_by", "Say who pays you, or will, to post on this.", "paid_by_required"
        )

    parties = list(conflict_parties)
    if conflict not in Conflict.values:
        fail(
            "conflict",
            "Say whether you have a conflict of interest.",
            "conflict_required",
        )
    elif conflict == Conflict.NONE:
        if parties or conflict_details.strip():
            fail(
                "conflict",
                "Choose “declared” to name a conflict, or clear its parties and details.",
                "conflict_unexpected",
            )
    else:
        if not parties:
            fail(
                "conflict_parties",
                "Choose the party or parties your conflict of interest involves.",
                "conflict_parties_required",
            )
        elif any(party.topic_id != topic.pk for party in parties):
            fail(
                "conflict_parties",
                "Choose parties of this topic only.",
                "conflict_party_foreign",
            )
        if not conflict_details.strip():
            fail(
                "conflict_details",
                "Describe the conflict of interest in a sentence or two.",
                "conflict_details_required",
            )

    if errors:
        raise ValidationError(errors)


def validate_stances(*, topic: Topic, stances: Iterable[Stance]) -> None:
    """Reject stances outside the topic's vocabulary; the form, admin and services all call this."""
    stances = list(stances)
    if not stances:
        raise ValidationError(
            {"stances": ValidationError(
                "Choose at least one stance: say where this reply stands.",
                code="stances_required",
            )}
        )  # fmt: skip
    if any(stance.position.topic_id != topic.pk for stance in stances):
        raise ValidationError(
            {"stances": ValidationError(
                "Choose stances on this topic's positions only.", code="stance_foreign"
            )}
        )  # fmt: skip
    seen: dict[int, str] = {}
    for stance in stances:
        if seen.setdefault(stance.position_id, stance.polarity) != stance.polarity:
            raise ValidationError(
                {"stances": ValidationError(
                    "A reply cannot both support and oppose “%(claim)s”.",
                    code="stance_contradiction",
                    params={"claim": stance.position.claim},
                )}
            )  # fmt: skip


def validate_parent(
    *, topic: Topic, parent: Post | None, post: Post | None = None
) -> None:
    """A reply answers a visible post of its own topic, never itself."""
    if parent is None:
        return
    if parent.topic_id != topic.pk:
        message, code = "You can only reply to a post in this topic.", "parent_foreign"
    elif (post is None or post.pk is None) and parent.status != PostStatus.PUBLISHED:
        # A new reply may not answer a hidden post; an existing one keeps its parent.
        message, code = (
            "That post was hidden by moderators; reply to the topic instead.",
            "parent_hidden",
        )
    elif post is not None and parent.pk == post.pk:
        message, code = "A post cannot reply to itself.", "parent_self"
    else:
        return
    raise ValidationError({"parent": ValidationError(message, code=code)})


def validate_passage(*, topic: Topic, passage: int | None) -> None:
    """A reply answers a paragraph its topic's article has."""
    if passage is not None and topic.passage(passage) is None:
        raise ValidationError(
            {"passage": ValidationError(
                "The article has no paragraph %(number)d to answer.",
                code="passage_missing", params={"number": passage},
            )}
        )  # fmt: skip


def validate_keywords(*, names: Sequence[str]) -> None:
    if len(names) > KEYWORDS_MAX:
        raise ValidationError(
            {"tags": ValidationError(
                "Use at most %(max)d keyword tags.", code="tags_too_many",
                params={"max": KEYWORDS_MAX},
            )}
        )  # fmt: skip
    for name in names:
        if len(name) > KEYWORD_MAX_LENGTH:
            raise ValidationError(
                {"tags": ValidationError(
                    "Keep each keyword tag to %(max)d characters (“%(tag)s…” is longer).",
                    code="tag_too_long",
                    params={"max": KEYWORD_MAX_LENGTH, "tag": name[:20]},
                )}
            )  # fmt: skip


def _locked(queryset: QuerySet) -> QuerySet:
    """The rows of `queryset`, locked for this transaction.

    By primary key: PostgreSQL refuses FOR UPDATE on a query with GROUP BY, as
    the admin's annotated querysets (the report queue) are.
    """
    pks = list(queryset.values_list("pk", flat=True))
    # NO KEY: a reply being inserted meanwhile takes KEY SHARE on its parent
    # post and topic; a plain FOR UPDATE would deadlock with it.
    manager = queryset.model._default_manager
    return manager.filter(pk__in=pks).select_for_update(no_key=True)


def disclosure_answers(answers: dict) -> dict[str, str]:
    """A disclosure's text answers, trimmed; an optional one left out is empty."""
    return {name: (answers.get(name) or "").strip() for name in DISCLOSURE_TEXT_FIELDS}


def _raise_unless_attested(attested: bool) -> None:
    if not attested:
        raise ValidationError(
            {"attest": ValidationError(
                "Confirm that your disclosure is complete and accurate.",
                code="attest_required",
            )}
        )  # fmt: skip


def _raise_if_locked(topic: Topic) -> Topic:
    """Re-read the topic inside the write transaction: a lock taken a moment ago holds."""
    topic = Topic.objects.select_for_update().get(pk=topic.pk)
    if topic.is_locked:
        raise ValidationError(LOCKED_MESSAGE, code="topic_locked")
    return topic


@transaction.atomic
def post_create(
    *,
    topic: Topic,
    author: AbstractBaseUser,
    body: str,
    stances: Iterable[Stance],
    tags: Sequence[str] = (),
    parent: Post | None = None,
    passage: int | None = None,
    authorship: str,
    ai_model: str = "",
    ai_maker: str = "",
    affiliation: str,
    paid: str,
    paid_by: str = "",
    conflict: str,
    conflict_parties: Iterable[Party] = (),
    conflict_details: str = "",
    attested: bool,
    admit: Callable[[], None] | None = None,
) -> Post:
    """Publish a reply once its disclosure is attested and every rule holds.

    `admit()` runs under the topic's lock once the reply is known to be new,
    just before it is stored: flood control counts it there, and may refuse.
    """
    topic = _raise_if_locked(topic)
    _raise_if_suspended(author)
    _raise_unless_attested(attested)
    # Each stance once: taggit would store one link, the counts would add two.
    stances, conflict_parties = list(dict.fromkeys(stances)), list(conflict_parties)
    disclosure = {
        "authorship": authorship, "ai_model": ai_model.strip(), "ai_maker": ai_maker.strip(),
        "affiliation": affiliation.strip(), "paid": paid, "paid_by": paid_by.strip(),
        "conflict": conflict, "conflict_details": conflict_details.strip(),
    }  # fmt: skip
    validate_disclosure(topic=topic, conflict_parties=conflict_parties, **disclosure)
    validate_stances(topic=topic, stances=stances)
    validate_parent(topic=topic, parent=parent)
    validate_passage(topic=topic, passage=passage)
    validate_keywords(names=tags)
    now = timezone.now()
    # Under the topic's lock a double-submitted form sees its twin committed.
    if earlier := post_find_duplicate(author=author, body=body, now=now):
        raise ValidationError(
            "You posted this same text at %(time)s (#%(post)d); it was not posted again.",
            code="duplicate",
            params={"post": earlier.pk, "time": f"{earlier.created:%H:%M} UTC"},
        )
    if admit is not None:
        admit()
    post = Post(
        topic=topic, author=author, parent=parent, passage=passage, body=body,
        attested_at=now, created=now, **disclosure,
    )  # fmt: skip
    # The validators above just ran, and the database checks the same named
    # constraints on insert: re-running them as queries here would only hold
    # the write lock longer. Related rows were fetched, so skip their lookups.
    post.full_clean(exclude=["topic", "author", "parent"], validate_constraints=False)
    post.save()
    # A new post has no links yet: add() spares set()'s look-ups of old ones.
    if conflict_parties:
        post.conflict_parties.add(*conflict_parties)
    post.stances.add(*stances)
    if tags:
        post.tags.add(*tags)
    _count_new_post(topic=topic, stances=stances, now=now)
    return post


def post_find_duplicate(*, author: AbstractBaseUser, body: str, now: datetime):
    """The author's post with this exact body from the last duplicate window, if any."""
    since = now - timedelta(seconds=settings.STANDPOINT_DUPLICATE_SECONDS)
    recent = Post.objects.filter(author=author, body=body, created__gte=since)
    return recent.order_by("-created").first()


def _count_new_post(*, topic: Topic, stances: list[Stance], now) -> None:
    """Add one published reply to the stored counts, in the creating transaction."""
    Topic.objects.filter(pk=topic.pk).update(
        reply_count=F("reply_count") + 1, updated=now
    )
    for stance in stances:
        name = (
            "support_count" if stance.polarity == Polarity.SUPPORTS else "oppose_count"
        )
        Position.objects.filter(pk=stance.position_id).update(**{name: F(name) + 1})


@transaction.atomic
def topics_refresh(*, topic_ids: Iterable[int]) -> None:
    """Recount replies and stances of these topics and mark them changed.

    For the rare writes (moderation, edits, seeding); creating a post adds one.
    """
    # Lock the topics first: on PostgreSQL a recount that waited for a reply's
    # lock would otherwise count from before it and undo its +1.
    topic_ids = list(
        Topic.objects.select_for_update()
        .filter(pk__in=list(topic_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )

    def count(status: str) -> Coalesce:
        posts = (
            Post.objects.filter(status=status, topic=OuterRef("pk"))
            .values("topic").annotate(n=Count("pk")).values("n")
        )  # fmt: skip
        return Coalesce(Subquery(posts), 0)

    Topic.objects.filter(pk__in=topic_ids).update(
        reply_count=count(PostStatus.PUBLISHED),
        hidden_count=count(PostStatus.HIDDEN),
        updated=timezone.now(),
    )
    counts = {}
    for polarity, name in ((Polarity.SUPPORTS, "support_count"),
                           (Polarity.OPPOSES, "oppose_count")):  # fmt: skip
        links = (
            PostStance.objects.filter(
                tag__position=OuterRef("pk"), tag__polarity=polarity,
                content_object__status=PostStatus.PUBLISHED,
            )
            .values("tag__position").annotate(n=Count("pk")).values("n")
        )  # fmt: skip
        counts[name] = Coalesce(Subquery(links), 0)
    Position.objects.filter(topic_id__in=topic_ids).update(**counts)


@transaction.atomic
def posts_set_status(
    *, posts: QuerySet[Post], status: str, actor: AbstractBaseUser | None, reason: str
) -> int:
    """Hide or restore posts, logged; a hidden post leaves a tombstone with the reason.

    `actor` None is the site itself (the report threshold). A moderator hiding
    a post the site hid takes it over: their reason replaces the site's.
    """
    reason = validate_reason(reason)
    locked = _locked(posts)
    hiding = status == PostStatus.HIDDEN
    if hiding and actor is not None:
        held = _hidden_by_threshold(locked.filter(status=status))
        locked = locked.filter(Q(pk__in=held) | ~Q(status=status))
    else:
        locked = locked.exclude(status=status)
    changing = list(locked.values_list("pk", "topic_id"))
    ids = [pk for pk, _ in changing]
    Post.objects.filter(pk__in=ids).update(
        status=status, hidden_reason=reason if hiding else ""
    )
    _log(actor, ModerationKind.HIDE if hiding else ModerationKind.RESTORE, reason,
         changing)  # fmt: skip
    if not hiding:
        # A restored post starts afresh: the reports that hid it must not, with
        # one more, hide it again at once.
        reported = list(
            Post.objects.filter(pk__in=ids, reports__status=ReportStatus.OPEN)
            .distinct().values_list("pk", "topic_id")
        )  # fmt: skip
        Report.objects.open().filter(post__in=ids).update(
            status=ReportStatus.DISMISSED, resolved_by=actor, resolved_at=timezone.now()
        )
        _log(actor, ModerationKind.DISMISS_REPORTS, reason, reported)
    topics_refresh(topic_ids={topic_id for _, topic_id in changing})
    return len(changing)


def _log(actor, kind: str, reason: str, posts: Iterable[tuple[int, int]]) -> None:
    """One log line per (post id, topic id) in `posts`."""
    ModerationAction.objects.bulk_create(
        ModerationAction(actor=actor, action=kind, reason=reason, post_id=pk,
                         topic_id=topic_id)
        for pk, topic_id in posts
    )  # fmt: skip


TOPIC_FLAG_ACTIONS = {
    ("is_locked", True): ModerationKind.LOCK,
    ("is_locked", False): ModerationKind.UNLOCK,
    ("is_pinned", True): ModerationKind.PIN,
    ("is_pinned", False): ModerationKind.UNPIN,
}


@transaction.atomic
def topics_set_flag(
    *, topics: QuerySet[Topic], flag: str, value: bool, actor: AbstractBaseUser,
    reason: str,
) -> int:  # fmt: skip
    """Lock, unlock, pin or unpin topics, logging each one that changes."""
    kind = TOPIC_FLAG_ACTIONS[flag, value]
    reason = validate_reason(reason)
    changing = list(
        _locked(topics).exclude(**{flag: value}).values_list("pk", flat=True)
    )
    Topic.objects.filter(pk__in=changing).update(
        **{flag: value}, updated=timezone.now()
    )
    ModerationAction.objects.bulk_create(
        ModerationAction(actor=actor, action=kind, reason=reason, topic_id=pk)
        for pk in changing
    )
    return len(changing)


def user_make_moderator(*, user: AbstractBaseUser) -> None:
    """Give `user` the admin with the Moderators group's rights, and nothing more."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))


# Moderation ---------------------------------------------------------------


def validate_reason(reason: str, *, name: str = "reason") -> str:
    """A public reason, as moderators owe one for every action; returned stripped."""
    reason = reason.strip()
    if not reason:
        message, code = (
            "Give a reason: the public moderation log shows it.",
            "reason_required",
        )
    elif len(reason) > REASON_MAX_LENGTH or "\x00" in reason:
        message, code = (
            f"Keep the reason to {REASON_MAX_LENGTH} characters of plain text.",
            "reason_invalid",
        )
    else:
        return reason
    raise ValidationError({name: ValidationError(message, code=code)})


def validate_report(*, reason: str, note: str) -> None:
    if reason not in ReportReason.values:
        raise ValidationError(
            {
                "reason": ValidationError(
                    "Choose a reason from the list.", code="reason_invalid"
                )
            }
        )
    if reason == ReportReason.OTHER and not note.strip():
        raise ValidationError(
            {"note": ValidationError(
                "Say what is wrong with the post when the reason is “something else”.",
                code="note_required",
            )}
        )  # fmt: skip


def user_suspension(user: AbstractBaseUser) -> Suspension | None:
    """The user's active suspension that ends last, if any."""
    if not user.is_authenticated:
        return None
    return Suspension.objects.active().filter(user=user).order_by("-until").first()


def suspension_message(suspension: Suspension) -> str:
    return (
        f"Your account is suspended from posting and reporting until "
        f"{suspension.until.day} {suspension.until:%B %Y, %H:%M} UTC. "
        f"Moderators gave this reason: "
        f"{suspension.reason}"
    )


def _raise_if_suspended(user: AbstractBaseUser) -> None:
    if suspension := user_suspension(user):
        raise ValidationError(suspension_message(suspension), code="suspended")


@transaction.atomic
def report_create(
    *, post: Post, reporter: AbstractBaseUser, reason: str, note: str = ""
) -> Report:
    """File a reader's report; enough distinct reporters hide the post pending review."""
    _raise_if_suspended(reporter)
    # Lock the post: concurrent reports then count each other exactly once.
    post = _locked(Post.objects.filter(pk=post.pk)).get()
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
    # Readers whose report on this post a moderator dismissed (or a restore
    # closed) still reach the queue, but no longer count towards hiding it:
    # the same readers must not undo a review at once.
    overruled = post.reports.filter(status=ReportStatus.DISMISSED).values("reporter")
    reporters = (
        post.reports.open().exclude(reporter__in=overruled)
        .values("reporter").distinct().count()
    )  # fmt: skip
    if reporters >= settings.STANDPOINT_REPORT_THRESHOLD:
        posts_set_status(
            posts=Post.objects.filter(pk=post.pk),
            status=PostStatus.HIDDEN,
            actor=None,
            reason=f"Hidden automatically pending review: {reporters} readers "
            "reported it.",
        )
    return report


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
    targets = list(_locked(posts).values_list("pk", "topic_id"))
    ids = [pk for pk, _ in targets]
    open_reports = Report.objects.open().filter(post__in=ids)
    reported = set(open_reports.values_list("post_id", flat=True))
    closed = open_reports.update(
        status=outcome, resolved_by=actor, resolved_at=timezone.now()
    )
    verdict = (
        ModerationKind.DISMISS_REPORTS
        if outcome == ReportStatus.DISMISSED
        else ModerationKind.UPHOLD_REPORTS
    )
    _log(actor, verdict, reason, [(pk, t) for pk, t in targets if pk in reported])
    if outcome == ReportStatus.HIDDEN:
        posts_set_status(
            posts=Post.objects.filter(pk__in=ids),
            status=PostStatus.HIDDEN,
            actor=actor,
            reason=reason,
        )
        return closed
    if outcome == ReportStatus.DISPUTED:
        posts_review(
            posts=Post.objects.filter(pk__in=ids),
            state=ReviewState.DISPUTED,
            actor=actor,
            note=reason,
        )
    # The text stands (dismissed) or only its disclosure is in question
    # (disputed): a post the threshold hid pending this review comes back.
    hidden = Post.objects.filter(pk__in=ids, status=PostStatus.HIDDEN)
    posts_set_status(
        posts=Post.objects.filter(pk__in=_hidden_by_threshold(hidden)),
        status=PostStatus.PUBLISHED,
        actor=actor,
        reason=reason,
    )
    return closed


def _hidden_by_threshold(posts: QuerySet[Post]) -> list[int]:
    """Those of `posts` whose latest hiding was the site's, not a moderator's."""
    latest = (
        ModerationAction.objects.filter(post_id=OuterRef("pk"), action=ModerationKind.HIDE)
        .order_by("-created", "-id").values("actor_id")[:1]
    )  # fmt: skip
    held = Post.objects.filter(pk__in=list(posts.values_list("pk", flat=True)))
    held = held.annotate(hider=Subquery(latest))
    return list(held.filter(hider__isnull=True).values_list("pk", flat=True))


def validate_suspension(*, user: AbstractBaseUser, until: datetime) -> None:
    errors = {}
    if user.is_staff:
        errors["user"] = ValidationError(
            "Staff cannot be suspended; an administrator must remove their staff "
            "status first.",
            code="suspend_staff",
        )
    if until <= timezone.now():
        errors["until"] = ValidationError(
            "Choose an end in the future.", code="until_past"
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def user_suspend(
    *, user: AbstractBaseUser, until: datetime, reason: str, actor: AbstractBaseUser
) -> Suspension:
    """Stop `user` posting, proposing and reporting until `until`, logged."""
    reason = validate_reason(reason)
    validate_suspension(user=user, until=until)
    now = timezone.now()
    suspension = Suspension(
        user=user, until=until, reason=reason, created_by=actor, created=now
    )
    suspension.full_clean(exclude=["user", "created_by"], validate_constraints=False)
    suspension.save()
    ModerationAction.objects.create(
        actor=actor, action=ModerationKind.SUSPEND, reason=reason, suspension=suspension
    )
    return suspension


@transaction.atomic
def suspensions_lift(
    *, suspensions: QuerySet[Suspension], actor: AbstractBaseUser, reason: str
) -> int:
    """End active suspensions now, logged."""
    reason = validate_reason(reason)
    lifting = list(_locked(suspensions).active().values_list("pk", flat=True))
    Suspension.objects.filter(pk__in=lifting).update(
        lifted_at=timezone.now(), lifted_by=actor
    )
    ModerationAction.objects.bulk_create(
        ModerationAction(actor=actor, action=ModerationKind.LIFT_SUSPENSION,
                         reason=reason, suspension_id=pk)
        for pk in lifting
    )  # fmt: skip
    return len(lifting)


def validate_proposal(*, topic: Topic, claim: str, quote: str) -> None:
    """A new claim of this topic, quoting the article word for word if at all."""
    errors = {}
    wanted = " ".join(claim.split()).casefold()
    pending = PositionProposal.objects.filter(
        topic=topic, status=ProposalStatus.PENDING
    )
    existing = [
        *Position.objects.filter(topic=topic).values_list("claim", flat=True),
        *pending.values_list("claim", flat=True),
    ]
    if wanted and any(" ".join(c.split()).casefold() == wanted for c in existing):
        errors["claim"] = ValidationError(
            "This topic already has, or is considering, that position.",
            code="claim_exists",
        )
    if quote.strip() and " ".join(quote.split()) not in " ".join(topic.body.split()):
        errors["quote"] = ValidationError(
            "Quote the article word for word, or leave the quote empty.",
            code="quote_not_in_article",
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def position_propose(
    *,
    topic: Topic,
    author: AbstractBaseUser,
    claim: str,
    summary: str = "",
    quote: str = "",
    attested: bool,
    conflict_parties: Iterable[Party] = (),
    **disclosure: str,
) -> PositionProposal:
    """Submit a position for moderators to approve, disclosed like a reply."""
    topic = _raise_if_locked(topic)
    _raise_if_suspended(author)
    _raise_unless_attested(attested)
    disclosure = disclosure_answers(disclosure)
    conflict_parties = list(conflict_parties)
    validate_disclosure(topic=topic, conflict_parties=conflict_parties, **disclosure)
    validate_proposal(topic=topic, claim=claim, quote=quote)
    now = timezone.now()
    proposal = PositionProposal(
        topic=topic, author=author, claim=claim.strip(), summary=summary.strip(),
        quote=quote.strip(), attested_at=now, created=now, **disclosure,
    )  # fmt: skip
    proposal.full_clean(exclude=["topic", "author"])
    proposal.save()
    proposal.conflict_parties.set(conflict_parties)
    return proposal


@transaction.atomic
def proposals_decide(
    *,
    proposals: QuerySet[PositionProposal],
    approve: bool,
    actor: AbstractBaseUser,
    reason: str,
) -> int:
    """Approve pending proposals into positions with their two stances, or reject them."""
    reason = validate_reason(reason)
    now = timezone.now()
    # The topics first: two approvals must not pick the same new slug.
    topic_ids = set(proposals.values_list("topic_id", flat=True))
    list(Topic.objects.select_for_update().filter(pk__in=topic_ids).order_by("pk"))
    pending = list(_locked(proposals).filter(status=ProposalStatus.PENDING))
    for proposal in pending:
        proposal.status = (
            ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
        )
        proposal.decided_by, proposal.decided_at = actor, now
        proposal.decision_reason = reason
        if approve:
            proposal.position = _position_from(proposal)
        proposal.save()
        ModerationAction.objects.create(
            actor=actor,
            action=ModerationKind.APPROVE_POSITION if approve
            else ModerationKind.REJECT_POSITION,
            reason=reason, topic_id=proposal.topic_id, proposal=proposal,
        )  # fmt: skip
    if approve:
        topics_refresh(topic_ids={proposal.topic_id for proposal in pending})
    return len(pending)


def _position_from(proposal: PositionProposal) -> Position:
    topic_positions = Position.objects.filter(topic_id=proposal.topic_id)
    base = slugify(proposal.claim)[:70].strip("-") or "position"
    slug, n = base, 1
    while topic_positions.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    last = topic_positions.order_by("-order").values_list("order", flat=True).first()
    position = Position.objects.create(
        topic_id=proposal.topic_id, slug=slug, claim=proposal.claim,
        summary=proposal.summary, quote=proposal.quote,
        order=0 if last is None else last + 1, proposed_by=proposal.author,
    )  # fmt: skip
    position_sync_stances(position=position)
    return position


# Edits and disclosure review -------------------------------------------------


def post_snapshot(post: Post, **fields) -> PostRevision:
    """`post` as it stands now (its stances, tags and parties read), as an unsaved revision."""
    return _version(
        post, body=post.body, stances=post.stances.all(),
        tags=[tag.name for tag in post.tags.all()],
        conflict_parties=post.conflict_parties.all(),
        disclosure={name: getattr(post, name) for name in DISCLOSURE_TEXT_FIELDS},
        **fields,
    )  # fmt: skip


def _version(
    post: Post, *, body: str, stances: Iterable[Stance], tags: Iterable[str],
    conflict_parties: Iterable[Party], disclosure: dict, **fields,
) -> PostRevision:  # fmt: skip
    """An unsaved revision: stances and parties by name, as a reader saw them."""
    return PostRevision(
        post=post,
        body=body,
        stances=[
            {
                "position": s.position.slug,
                "claim": s.position.claim,
                "polarity": s.polarity,
            }
            for s in sorted(stances, key=_stance_order)
        ],
        tags=sorted(tags),
        conflict_parties=[
            {"slug": party.slug, "name": party.name}
            for party in sorted(conflict_parties, key=lambda party: party.name)
        ],
        **disclosure,
        **fields,
    )


def _stance_order(stance: Stance) -> tuple:
    return stance.position.order, stance.position_id


def _content(version: PostRevision) -> tuple:
    return (
        version.body, version.stances, version.tags, _disclosure_of(version),
    )  # fmt: skip


def _disclosure_of(version: PostRevision) -> tuple:
    parties = sorted(party["slug"] for party in version.conflict_parties)
    return (*(getattr(version, name) for name in DISCLOSURE_TEXT_FIELDS), parties)


def disclosure_downgrades(
    old: PostRevision, new: PostRevision, topic: Topic
) -> list[str]:
    """How `new` declares less than `old`, or changes what it declared, in words.

    Only additions are free: more AI involvement, a payment, conflict or
    affiliation newly declared, more parties to a conflict. Any other change
    could hide a tie, so it needs a reason and marks the post amended.
    """
    reduced = []
    if AUTHORSHIP_RANK[new.authorship] < AUTHORSHIP_RANK[old.authorship]:
        reduced.append(
            f"less AI involvement ({old.get_authorship_display()} → "
            f"{new.get_authorship_display()})"
        )
    elif old.uses_ai and (
        old.ai_model != new.ai_model or not _same_maker(old, new, topic)
    ):
        reduced.append("a different AI model or maker")
    if (
        not _kept(old.affiliation, new.affiliation)
        and old.affiliation.casefold() != "none"
    ):
        reduced.append("a changed affiliation")
    if old.paid != Paid.NO and new.paid == Paid.NO:
        reduced.append("the payment removed")
    elif old.paid != Paid.NO and (
        old.paid != new.paid or not _kept(old.paid_by, new.paid_by)
    ):
        reduced.append("a changed payment")
    old_parties = {party["slug"] for party in old.conflict_parties}
    new_parties = {party["slug"] for party in new.conflict_parties}
    if old.conflict == Conflict.DECLARED and new.conflict == Conflict.NONE:
        reduced.append("the conflict of interest removed")
    elif old_parties - new_parties:
        reduced.append("a party removed from the conflict of interest")
    elif old.conflict == Conflict.DECLARED and not _kept(
        old.conflict_details, new.conflict_details
    ):
        reduced.append("rewritten conflict details")
    return reduced


def _kept(old: str, new: str) -> bool:
    """Whether `new` keeps all of `old`'s words in order: an answer may grow, not shrink."""
    return " ".join(old.split()) in " ".join(new.split())


def _same_maker(old: PostRevision, new: PostRevision, topic: Topic) -> bool:
    """One maker, spelled alike or named by two of one party's names."""
    if old.ai_maker.casefold() == new.ai_maker.casefold():
        return True
    party = topic.party_named(old.ai_maker)
    return party is not None and party == topic.party_named(new.ai_maker)


def stance_changes(old: PostRevision, new: PostRevision) -> list[dict]:
    """Each position whose stance differs between two versions, in the new order."""
    before = {s["position"]: s for s in old.stances}
    after = {s["position"]: s for s in new.stances}
    changes = []
    for slug in [*after, *(slug for slug in before if slug not in after)]:
        was, now = before.get(slug), after.get(slug)
        if (was and was["polarity"]) != (now and now["polarity"]):
            changes.append({
                "claim": (now or was)["claim"],
                "from": was["polarity"] if was else "",
                "to": now["polarity"] if now else "",
            })  # fmt: skip
    return changes


# Review states an author's disclosure change would void, and ones it must not lower.
REVIEW_VOIDED_BY_EDIT = {ReviewState.VERIFIED, ReviewState.CORRECTED}
REVIEW_VOIDED = (
    "The author changed the disclosure after moderators reviewed it; it is "
    "self-declared again."
)
REVIEW_HOLDS_DISCLOSURE = {ReviewState.DISPUTED, ReviewState.MODERATOR_LABELLED}


@transaction.atomic
def post_edit(
    *,
    post: Post,
    editor: AbstractBaseUser,
    reason: str = "",
    attested: bool = False,
    body: str,
    stances: Iterable[Stance],
    tags: Sequence[str] = (),
    conflict_parties: Iterable[Party] = (),
    **disclosure: str,
) -> Post:
    """Change a post under its creation rules, keeping every version it had.

    Its author re-attests the disclosure; a moderator gives a public reason
    instead, the edit is logged, and a disclosure they change is labelled as
    theirs. Declaring less than before needs a reason, marks the post amended,
    and is refused to its author while moderators dispute or labelled it.
    """
    post = (
        _locked(Post.objects.filter(pk=post.pk))
        .prefetch_related("stances__position", "tags", "conflict_parties")
        .get()
    )
    as_author = editor.pk == post.author_id
    if not as_author and not editor.is_staff:
        raise ValidationError("You can only edit your own posts.", code="not_yours")
    if as_author:
        _raise_if_suspended(editor)
        if post.status == PostStatus.HIDDEN:
            raise ValidationError(
                "Moderators hid this post, so it can no longer be edited.",
                code="post_hidden",
            )
        topic = Topic.objects.select_for_update().get(pk=post.topic_id)
        if topic.is_locked:
            raise ValidationError(
                "This topic is locked: its replies can no longer be edited.",
                code="topic_locked",
            )
        _raise_unless_attested(attested)
        reason = reason.strip()
        if reason:
            reason = validate_reason(reason)
    else:
        reason = validate_reason(reason)
        topic = post.topic
    stances, conflict_parties = list(dict.fromkeys(stances)), list(conflict_parties)
    disclosure = disclosure_answers(disclosure)
    validate_disclosure(topic=topic, conflict_parties=conflict_parties, **disclosure)
    validate_stances(topic=topic, stances=stances)
    validate_keywords(names=tags)

    old = post_snapshot(post)
    new = _version(
        post, body=body, stances=stances, tags=tags,
        conflict_parties=conflict_parties, disclosure=disclosure,
    )  # fmt: skip
    if _content(old) == _content(new):
        raise ValidationError(
            "Nothing has changed: edit the text, stances, tags or disclosure first.",
            code="unchanged",
        )
    downgrades = disclosure_downgrades(old, new, topic)
    # A disclosure moderators once relabelled stays theirs to lower, whatever
    # verdict came after.
    relabelled = as_author and _relabelled(post)
    held = post.review_state in REVIEW_HOLDS_DISCLOSURE or relabelled
    if downgrades and as_author and held:
        raise ValidationError(
            "Moderators have %(state)s this post’s disclosure, so it cannot declare "
            "less or change what it declared (%(what)s) until they review it again. "
            "You can add to it.",
            code="review_holds_disclosure",
            params={
                "state": "disputed" if post.is_disputed else "relabelled",
                "what": ", ".join(downgrades),
            },
        )
    if downgrades and not reason:
        raise ValidationError(
            {"reason": ValidationError(
                "This edit declares less than before, or changes what was declared "
                "(%(what)s): say why. Readers see your reason in the post’s history.",
                code="downgrade_reason_required",
                params={"what": ", ".join(downgrades)},
            )}
        )  # fmt: skip

    now = timezone.now()
    numbers = post.revisions.order_by("-number").values_list("number", flat=True)
    last = numbers.first()
    if last is None:
        # The first edit: keep what was first published as revision 1.
        old.number, old.editor_id, old.created = 1, post.author_id, post.created
        old.save()
        last = 1
    for name, value in disclosure.items():
        setattr(post, name, value)
    post.body, post.edited = body, now
    post.amended = post.amended or bool(downgrades)
    if as_author:
        post.attested_at = now
    disclosure_changed = _disclosure_of(old) != _disclosure_of(new)
    if disclosure_changed and not as_author:
        post.review_state, post.review_note = ReviewState.MODERATOR_LABELLED, reason
        post.reviewed_by, post.reviewed_at = editor, now
    elif (
        disclosure_changed
        and post.review_state in REVIEW_VOIDED_BY_EDIT
        and not relabelled  # only additions got here: the verdict stands
    ):
        # Moderators vouched for the disclosure as it was, not as it is now.
        post.review_state, post.review_note = ReviewState.SELF_DECLARED, ""
        post.reviewed_by = post.reviewed_at = None
        _log(
            None, ModerationKind.CLEAR_REVIEW, REVIEW_VOIDED, [(post.pk, post.topic_id)]
        )
    post.full_clean(exclude=["topic", "author", "parent"], validate_constraints=False)
    post.save()
    post.conflict_parties.set(conflict_parties)
    post.stances.set(stances)
    post.tags.set(tags)
    new.number, new.editor, new.created, new.reason = last + 1, editor, now, reason
    new.downgrade, new.stance_changes = bool(downgrades), stance_changes(old, new)
    new.save()
    if not as_author:
        _log(editor, ModerationKind.EDIT_POST, reason, [(post.pk, post.topic_id)])
        if disclosure_changed:
            _log(editor, ModerationKind.LABEL_DISCLOSURE, reason,
                 [(post.pk, post.topic_id)])  # fmt: skip
    topics_refresh(topic_ids=[post.topic_id])
    return post


def _relabelled(post: Post) -> bool:
    """Whether moderators ever changed this post's disclosure themselves."""
    return ModerationAction.objects.filter(
        post=post, action=ModerationKind.LABEL_DISCLOSURE
    ).exists()


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
    locked = _locked(posts).exclude(review_state=state, review_note=note)
    if state == ReviewState.SELF_DECLARED:
        locked = locked.exclude(review_state=state)
    ids = list(locked.values_list("pk", flat=True))
    if Post.objects.filter(pk__in=ids, author=actor).exists():
        raise ValidationError(
            "You cannot review the disclosure of your own post; another moderator must.",
            code="own_post",
        )
    relabelled = ModerationAction.objects.filter(
        post__in=ids, action=ModerationKind.LABEL_DISCLOSURE
    )
    if state == ReviewState.SELF_DECLARED and relabelled.exists():
        # Some of the disclosure is the moderators' words, not the author's.
        raise ValidationError(
            "A disclosure moderators have relabelled cannot go back to self-declared: "
            "it would pass their words off as the author's. Verify or dispute it "
            "instead.",
            code="review_labelled",
        )
    changing = list(Post.objects.filter(pk__in=ids).values_list("pk", "topic_id"))
    reviewed = state != ReviewState.SELF_DECLARED
    Post.objects.filter(pk__in=[pk for pk, _ in changing]).update(
        review_state=state,
        review_note=note if reviewed else "",
        reviewed_by=actor if reviewed else None,
        reviewed_at=timezone.now() if reviewed else None,
    )
    _log(actor, REVIEW_ACTIONS[state], note, changing)
    topics_refresh(topic_ids={topic_id for _, topic_id in changing})
    return len(changing)


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
        _locked(revisions).filter(redacted_at__isnull=True)
        .values_list("pk", "post_id", "number")
    )  # fmt: skip
    latest = dict(
        PostRevision.objects.filter(post__in={post for _, post, _ in rows})
        .values("post").annotate(last=Max("number")).values_list("post", "last")
    )  # fmt: skip
    if any(number == latest[post] for _, post, number in rows):
        raise ValidationError(
            "A post’s latest version is the text the thread shows: edit the post (or "
            "hide it) first, then remove the earlier version.",
            code="redact_latest",
        )
    PostRevision.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
        redacted_at=timezone.now(), redacted_by=actor, redacted_reason=reason
    )
    topics = dict(
        Post.objects.filter(pk__in={post for _, post, _ in rows}).values_list(
            "pk", "topic"
        )
    )
    _log(actor, ModerationKind.REDACT_REVISION, reason,
         [(post, topics[post]) for _, post, _ in rows])  # fmt: skip
    return len(rows)


# Disclosure defaults -----------------------------------------------------------

DEFAULTS_FIELDS = ("affiliation", "paid", "paid_by", "interests")


def validate_defaults(
    *, affiliation: str, paid: str, paid_by: str, interests: str
) -> None:
    """Defaults may be left empty, but what is there must make a valid disclosure."""
    errors = {}
    if paid not in ("", *Paid.values):
        errors["paid"] = ValidationError(
            "Choose an answer from the list.", code="paid_invalid"
        )
    elif paid in ("", Paid.NO) and paid_by.strip():
        errors["paid_by"] = ValidationError(
            "Leave “paid by” empty unless you are paid.", code="paid_by_unexpected"
        )
    elif paid in (Paid.YES, Paid.EXPECTED) and not paid_by.strip():
        errors["paid_by"] = ValidationError(
            "Say who pays you, or will.", code="paid_by_required"
        )
    if len(interests) > INTERESTS_MAX_LENGTH:
        errors["interests"] = ValidationError(
            "Keep your interests to %(max)d characters.", code="interests_too_long",
            params={"max": INTERESTS_MAX_LENGTH},
        )  # fmt: skip
    else:
        for line in interests.splitlines():
            name, colon, tie = line.partition(":")
            if line.strip() and not (name.strip() and colon and tie.strip()):
                errors["interests"] = ValidationError(
                    "Write each interest as “party: your tie to it”, e.g. "
                    "“Anthropic: I hold shares” (“%(line)s” is not).",
                    code="interest_malformed", params={"line": line.strip()[:40]},
                )  # fmt: skip
                break
    if errors:
        raise ValidationError(errors)


def user_defaults(user: AbstractBaseUser) -> DisclosureDefaults | None:
    """The user's current disclosure defaults, if they ever set any."""
    if not user.is_authenticated:
        return None
    return DisclosureDefaults.objects.current_for(user.pk)


@transaction.atomic
def user_set_defaults(
    *, user: AbstractBaseUser, affiliation: str = "", paid: str = "",
    paid_by: str = "", interests: str = "",
) -> DisclosureDefaults | None:  # fmt: skip
    """Record the user's new defaults, unless they are the current ones; None if unchanged."""
    values = {
        "affiliation": affiliation.strip(), "paid": paid, "paid_by": paid_by.strip(),
        "interests": "\n".join(
            line.strip() for line in interests.strip().splitlines() if line.strip()
        ),
    }  # fmt: skip
    validate_defaults(**values)
    # Lock the user's row: two saves at once must not both find nothing changed.
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    current = DisclosureDefaults.objects.filter(user=user).first()
    if current and all(getattr(current, k) == v for k, v in values.items()):
        return None
    defaults = DisclosureDefaults(user=user, **values)
    defaults.full_clean(exclude=["user"], validate_constraints=False)
    defaults.save()
    return defaults


def defaults_initial(defaults: DisclosureDefaults | None, topic: Topic) -> dict:
    """A reply form's initial disclosure from the author's defaults, for this topic.

    A standing interest in one of the topic's parties pre-fills the conflict
    declaration; the author still confirms every answer.
    """
    if defaults is None:
        return {}
    # One read of the parties for every interest line, unless the page has them.
    prefetch_related_objects([topic], "parties")
    initial = {"affiliation": defaults.affiliation, "paid": defaults.paid,
               "paid_by": defaults.paid_by}  # fmt: skip
    parties, ties = [], []
    for name, tie in defaults.interest_lines():
        party = topic.party_named(name)
        if party is not None and party not in parties:
            parties.append(party)
            ties.append(f"{party.name}: {tie}" if tie else party.name)
    if parties:
        initial.update(conflict=Conflict.DECLARED, conflict_details="; ".join(ties),
                       conflict_parties=[party.slug for party in parties])  # fmt: skip
    return {name: value for name, value in initial.items() if value}


# Seeding ------------------------------------------------------------------


@dataclass(frozen=True)
class PartyData:
    slug: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PositionData:
    slug: str
    claim: str
    summary: str
    quote: str


@dataclass(frozen=True)
class ArticleData:
    """What a seed file says, checked for shape; `seeding.parse_article` builds it."""

    slug: str
    title: str
    lede: str
    body: str
    source_publication: str
    source_url: str
    source_date: object
    disclosure: dict
    disclosure_statement: str
    conflict_party_slugs: tuple[str, ...]
    parties: tuple[PartyData, ...]
    positions: tuple[PositionData, ...]


@dataclass
class SeedResult:
    topic: Topic
    created: bool
    kept: list[str] = field(default_factory=list)


def position_sync_stances(*, position: Position) -> None:
    """Give `position` exactly its two stances, named after its current claim."""
    for polarity in Polarity.values:
        Stance.objects.update_or_create(
            position=position,
            polarity=polarity,
            defaults={
                "slug": Stance.slug_for(position, polarity),
                "name": Stance.name_for(position, polarity),
            },
        )


@transaction.atomic
def topic_create_from_article(*, article: ArticleData) -> SeedResult:
    """Create or update the topic keyed on the article's slug; safe to run again."""
    topic = Topic.objects.filter(slug=article.slug).first() or Topic(slug=article.slug)
    created = topic.pk is None
    for name in ("title", "lede", "body", "source_publication", "source_url",
                 "source_date", "disclosure_statement"):  # fmt: skip
        setattr(topic, name, getattr(article, name))
    for name, value in article.disclosure.items():
        setattr(topic, name, value)
    topic.full_clean(exclude=["conflict_parties"])
    topic.save()

    result = SeedResult(topic=topic, created=created)
    parties = {}
    for data in article.parties:
        parties[data.slug], _ = Party.objects.update_or_create(
            topic=topic,
            slug=data.slug,
            defaults={"name": data.name, "aliases": ", ".join(data.aliases)},
        )
    _delete_unused(topic.parties.exclude(slug__in=parties), "post_conflicts", result)
    for order, data in enumerate(article.positions):
        position, _ = Position.objects.update_or_create(
            topic=topic,
            slug=data.slug,
            defaults={
                "claim": data.claim,
                "summary": data.summary,
                "quote": data.quote,
                "order": order,
            },  # fmt: skip
        )
        position_sync_stances(position=position)
    # Positions readers proposed were never in the file: only moderators remove them.
    stale = topic.positions.filter(proposal__isnull=True).exclude(
        slug__in=[p.slug for p in article.positions]
    )
    _delete_unused(stale, "stances__post_links", result)

    conflict_parties = [parties[slug] for slug in article.conflict_party_slugs]
    validate_disclosure(
        topic=topic, conflict_parties=conflict_parties, **article.disclosure
    )
    topic.conflict_parties.set(conflict_parties)
    topics_refresh(topic_ids=[topic.pk])
    return result


def _delete_unused(queryset: QuerySet, uses: str, result: SeedResult) -> None:
    """Delete rows a seed no longer names, keeping any a post still refers to."""
    counted = queryset.annotate(uses=Count(uses))
    result.kept += [str(row) for row in counted.filter(uses__gt=0)]
    queryset.model.objects.filter(pk__in=counted.filter(uses=0).values("pk")).delete()


def user_signup(*, username: str, password: str) -> AbstractBaseUser:
    """Create a reader's account; the form has already validated both values."""
    return get_user_model().objects.create_user(username=username, password=password)
