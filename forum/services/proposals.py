"""Positions readers propose, disclosed like replies, and moderators' decisions on them."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from ..models import (
    ModerationAction,
    ModerationKind,
    Position,
    PositionProposal,
    ProposalStatus,
    Topic,
)
from .disclosure import DisclosureAnswers
from .guards import locked_rows, require_not_suspended, topic_open
from .moderation import record
from .tallies import topics_touch
from .topics import position_sync_stances
from .validation import (
    validate_attested,
    validate_disclosure,
    validate_proposal,
    validate_reason,
)


@transaction.atomic
def position_propose(
    *,
    topic: Topic,
    author: AbstractBaseUser,
    claim: str,
    disclosure: DisclosureAnswers,
    attested: bool,
    summary: str = "",
    quote: str = "",
) -> PositionProposal:
    """Submit a position for moderators to approve, disclosed like a reply."""
    topic = topic_open(topic)
    require_not_suspended(author)
    validate_attested(attested)
    validate_disclosure(topic=topic, disclosure=disclosure)
    validate_proposal(topic=topic, claim=claim, quote=quote, summary=summary)
    now = timezone.now()
    proposal = PositionProposal(
        topic=topic,
        author=author,
        claim=claim.strip(),
        summary=summary.strip(),
        quote=quote.strip(),
        attested_at=now,
        created=now,
    )
    disclosure.apply_to(proposal)
    proposal.full_clean(exclude=["topic", "author"])
    proposal.save()
    proposal.conflict_parties.set(disclosure.conflict_parties)
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
    pending = list(locked_rows(proposals).filter(status=ProposalStatus.PENDING))
    for proposal in pending:
        proposal.status = (
            ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
        )
        proposal.decided_by, proposal.decided_at = actor, now
        proposal.decision_reason = reason
        if approve:
            proposal.position = _position_from(proposal)
        proposal.save()
        record(
            [
                ModerationAction(
                    actor=actor,
                    action=ModerationKind.APPROVE_POSITION
                    if approve
                    else ModerationKind.REJECT_POSITION,
                    reason=reason,
                    topic_id=proposal.topic_id,
                    proposal=proposal,
                )
            ]
        )
    if approve:
        topics_touch(topic_ids={proposal.topic_id for proposal in pending})
    return len(pending)


def _position_from(proposal: PositionProposal) -> Position:
    """A new position from an approved proposal, last in its topic, with a free slug."""
    topic_positions = Position.objects.filter(topic_id=proposal.topic_id)
    base = slugify(proposal.claim)[:70].strip("-") or "position"
    slug, n = base, 1
    while topic_positions.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    last = topic_positions.order_by("-order").values_list("order", flat=True).first()
    position = Position.objects.create(
        topic_id=proposal.topic_id,
        slug=slug,
        claim=proposal.claim,
        summary=proposal.summary,
        quote=proposal.quote,
        order=0 if last is None else last + 1,
        proposed_by=proposal.author,
    )
    position_sync_stances(position=position)
    return position
