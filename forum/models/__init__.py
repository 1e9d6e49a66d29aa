"""Standpoint's models, one module per part of the site; import them from here."""

from .disclosure import (
    AUTHORSHIP_RANK,
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
from .moderation import (
    ModerationAction,
    ModerationActionQuerySet,
    ModerationKind,
    PositionProposal,
    ProposalStatus,
    Report,
    ReportedPost,
    ReportQuerySet,
    ReportReason,
    ReportStatus,
    Suspension,
    SuspensionQuerySet,
)
from .posts import (
    Post,
    PostKeyword,
    PostQuerySet,
    PostRevision,
    PostStance,
    PostStatus,
)
from .profiles import INTERESTS_MAX_LENGTH, DisclosureDefaults
from .topics import Party, Polarity, Position, Stance, Topic, TopicQuerySet

__all__ = [
    "AUTHORSHIP_RANK", "BODY_MAX_LENGTH", "INTERESTS_MAX_LENGTH", "REASON_MAX_LENGTH",
    "Authorship", "Conflict", "Disclosure", "DisclosureDefaults", "DisclosureFields",
    "ModerationAction", "ModerationActionQuerySet", "ModerationKind", "Paid", "Party",
    "Polarity", "Position", "PositionProposal", "Post", "PostKeyword", "PostQuerySet",
    "PostRevision", "PostStance", "PostStatus", "ProposalStatus", "Report", "ReportQuerySet",
    "ReportReason", "ReportStatus", "ReportedPost", "ReviewState", "Stance", "Suspension",
    "SuspensionQuerySet", "Ties", "Topic", "TopicQuerySet", "Written", "not_blank",
]  # fmt: skip
