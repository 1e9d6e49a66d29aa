"""Editing a reply under its creation rules, keeping every version it had.

Two halves: `post_edit_refusal` says whether this person may edit this post
now (the edit page asks it before showing the form), and `post_edit` asks it
again under the post's lock, then checks the change and applies it.
"""

from collections.abc import Iterable, Sequence
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import (
    DISCLOSURE_TEXT_FIELDS,
    ModerationKind,
    Post,
    PostRevision,
    PostStatus,
    ReviewState,
    Stance,
    Topic,
)
from .disclosure import DisclosureAnswers, disclosure_downgrades
from .guards import TOPIC_LOCKED_TO_EDITS, locked_rows, require_not_suspended
from .moderation import log, relabelled
from .posts import keywords_as_spelled
from .tallies import tallied
from .validation import (
    invalid,
    validate_attested,
    validate_body,
    validate_disclosure,
    validate_keywords,
    validate_reason,
    validate_stances,
)

# Review states an author's disclosure change would void, and ones it must not lower.
REVIEW_VOIDED_BY_EDIT = {ReviewState.VERIFIED, ReviewState.CORRECTED}
REVIEW_VOIDED = (
    "The author changed the disclosure after moderators reviewed it; it is "
    "self-declared again."
)
REVIEW_HOLDS_DISCLOSURE = {ReviewState.DISPUTED, ReviewState.MODERATOR_LABELLED}
EDIT_UNCHANGED = (
    "Nothing has changed: edit the text, stances, tags or disclosure first."
)


def post_edit_refusal(
    *, post: Post, editor: AbstractBaseUser
) -> ValidationError | None:
    """Why `editor` may not edit `post` now, if they may not.

    Moderators edit any post; an author edits their own while it is shown and
    its topic open. Suspension is the author's, checked by post_edit.
    """
    if editor.pk != post.author_id:
        if editor.is_staff:
            return None
        return ValidationError("You can only edit your own posts.", code="not_yours")
    if post.status == PostStatus.HIDDEN:
        return ValidationError(
            "Moderators hid this post, so it can no longer be edited.",
            code="post_hidden",
        )
    if post.topic.is_locked:
        return ValidationError(TOPIC_LOCKED_TO_EDITS, code="topic_locked")
    return None


@transaction.atomic
def post_edit(
    *,
    post: Post,
    editor: AbstractBaseUser,
    body: str,
    stances: Iterable[Stance],
    disclosure: DisclosureAnswers,
    tags: Sequence[str] = (),
    reason: str = "",
    attested: bool = False,
) -> Post:
    """Change a post under its creation rules, keeping every version it had.

    Its author re-attests the disclosure; a moderator gives a public reason
    instead, the edit is logged, and a disclosure they change is labelled as
    theirs. Declaring less than before needs a reason, marks the post amended,
    and is refused to its author while moderators dispute or labelled it.
    """
    post = _locked_for_edit(post, editor)
    as_author = editor.pk == post.author_id
    if as_author:
        validate_attested(attested)
        reason = validate_reason(reason) if reason.strip() else ""
    else:
        reason = validate_reason(reason)
    validate_body(body)
    stances = list(dict.fromkeys(stances))
    validate_disclosure(topic=post.topic, disclosure=disclosure, author=post.author)
    validate_stances(topic=post.topic, stances=stances)
    tags = keywords_as_spelled(tags)
    validate_keywords(names=tags)
    old = post_snapshot(post)
    new = build_version(
        post, body=body, stances=stances, tags=tags, disclosure=disclosure
    )
    change = _Change(post, old, new, editor=editor, reason=reason)
    change.check()
    with tallied(Post.objects.filter(pk=post.pk)):
        change.apply(stances=stances, disclosure=disclosure, tags=tags)
    return post


def _locked_for_edit(post: Post, editor: AbstractBaseUser) -> Post:
    """The post under its lock (and its topic's, for an author), or a refusal."""
    post = (
        locked_rows(Post.objects.filter(pk=post.pk))
        .prefetch_related("stances__position", "tags", "conflict_parties")
        .get()
    )
    if editor.pk == post.author_id:
        require_not_suspended(editor)
        post.topic = Topic.objects.select_for_update().get(pk=post.topic_id)
    if refusal := post_edit_refusal(post=post, editor=editor):
        raise refusal
    return post


class _Change:
    """One edit of `post` from version `old` to `new`: may it be made, then make it."""

    def __init__(self, post, old, new, *, editor, reason):
        self.post, self.old, self.new = post, old, new
        self.editor, self.reason = editor, reason
        self.as_author = editor.pk == post.author_id
        self.disclosure_changed = _disclosure_of(old) != _disclosure_of(new)

    @cached_property
    def downgrades(self) -> list[str]:
        return disclosure_downgrades(self.old, self.new, self.post.topic)

    @cached_property
    def relabelled(self) -> bool:
        # A disclosure moderators once relabelled stays theirs to lower,
        # whatever verdict came after.
        return self.as_author and relabelled([self.post.pk])

    def check(self) -> None:
        if _content(self.old) == _content(self.new):
            raise ValidationError(EDIT_UNCHANGED, code="unchanged")
        held = self.post.review_state in REVIEW_HOLDS_DISCLOSURE or self.relabelled
        what = ", ".join(self.downgrades)
        if self.downgrades and self.as_author and held:
            raise ValidationError(
                "Moderators have %(state)s this post’s disclosure, so it cannot declare "
                "less or change what it declared (%(what)s) until they review it "
                "again. You can add to it.",
                code="review_holds_disclosure",
                params={
                    "state": "disputed" if self.post.is_disputed else "relabelled",
                    "what": what,
                },
            )
        if self.downgrades and not self.reason:
            raise invalid(
                "reason",
                "This edit declares less than before, or changes what was declared "
                "(%(what)s): say why. Readers see your reason in the post’s history.",
                "downgrade_reason_required",
                what=what,
            )

    def apply(self, *, stances, disclosure: DisclosureAnswers, tags) -> None:
        post, now = self.post, timezone.now()
        last = self._keep_first_version()
        disclosure.apply_to(post)
        post.body, post.edited = self.new.body, now
        post.amended = post.amended or bool(self.downgrades)
        if self.as_author:
            post.attested_at = now
        self._review(now)
        post.full_clean(
            exclude=["topic", "author", "parent"], validate_constraints=False
        )
        post.save()
        post.conflict_parties.set(disclosure.conflict_parties)
        post.stances.set(stances)
        post.tags.set(tags)
        new = self.new
        new.number, new.editor, new.created = last + 1, self.editor, now
        new.reason, new.downgrade = self.reason, bool(self.downgrades)
        new.stance_changes = stance_changes(self.old, new)
        new.save()
        if not self.as_author:
            self._log(ModerationKind.EDIT_POST)
            if self.disclosure_changed:
                self._log(ModerationKind.LABEL_DISCLOSURE)

    def _keep_first_version(self) -> int:
        """The last version's number; the first edit stores what was first published."""
        numbers = self.post.revisions.order_by("-number")
        last = numbers.values_list("number", flat=True).first()
        if last is not None:
            return last
        old, post = self.old, self.post
        old.number, old.editor_id, old.created = 1, post.author_id, post.created
        old.save()
        return 1

    def _review(self, now) -> None:
        """A moderator's disclosure change is their label; an author's voids a review."""
        post = self.post
        if self.disclosure_changed and not self.as_author:
            post.review_state, post.review_note = (
                ReviewState.MODERATOR_LABELLED,
                self.reason,
            )
            post.reviewed_by, post.reviewed_at = self.editor, now
        elif (
            self.disclosure_changed
            and post.review_state in REVIEW_VOIDED_BY_EDIT
            and not self.relabelled  # only additions got here: the verdict stands
        ):
            # Moderators vouched for the disclosure as it was, not as it is now.
            post.review_state, post.review_note = ReviewState.SELF_DECLARED, ""
            post.reviewed_by = post.reviewed_at = None
            log(
                None,
                ModerationKind.CLEAR_REVIEW,
                REVIEW_VOIDED,
                [(post.pk, post.topic_id)],
            )

    def _log(self, kind: str) -> None:
        log(self.editor, kind, self.reason, [(self.post.pk, self.post.topic_id)])


def post_snapshot(post: Post, **fields) -> PostRevision:
    """`post` as it stands now (its stances, tags and parties read), as an unsaved revision."""
    return build_version(
        post,
        body=post.body,
        stances=post.stances.all(),
        tags=[tag.name for tag in post.tags.all()],
        disclosure=DisclosureAnswers.of(post),
        **fields,
    )


def build_version(
    post: Post,
    *,
    body: str,
    stances: Iterable[Stance],
    tags: Iterable[str],
    disclosure: DisclosureAnswers,
    **fields,
) -> PostRevision:
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
            for s in sorted(stances, key=lambda s: (s.position.order, s.position_id))
        ],
        tags=sorted(tags),
        conflict_parties=[
            {"slug": party.slug, "name": party.name}
            for party in sorted(disclosure.conflict_parties, key=lambda p: p.name)
        ],
        **disclosure.texts(),
        **fields,
    )


def _content(version: PostRevision) -> tuple:
    return version.body, version.stances, version.tags, _disclosure_of(version)


def _disclosure_of(version: PostRevision) -> tuple:
    parties = sorted(party["slug"] for party in version.conflict_parties)
    return (*(getattr(version, name) for name in DISCLOSURE_TEXT_FIELDS), parties)


def stance_changes(old: PostRevision, new: PostRevision) -> list[dict]:
    """Each position whose stance differs between two versions, in the new order."""
    before = {s["position"]: s for s in old.stances}
    after = {s["position"]: s for s in new.stances}
    changes = []
    for slug in [*after, *(slug for slug in before if slug not in after)]:
        was, now = before.get(slug), after.get(slug)
        if (was and was["polarity"]) != (now and now["polarity"]):
            changes.append(
                {
                    "claim": (now or was)["claim"],
                    "from": was["polarity"] if was else "",
                    "to": now["polarity"] if now else "",
                }
            )
    return changes
