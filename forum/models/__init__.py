"""Standpoint's models, one module per part of the site; import them from here."""

from .disclosure import (
    BODY_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Authorship,
    Conflict,
    Disclosure,
    Paid,
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
from .posts import Post, PostKeyword, PostQuerySet, PostStance, PostStatus
from .topics import Party, Polarity, Position, Stance, Topic, TopicQuerySet

__all__ = [
    "BODY_MAX_LENGTH", "REASON_MAX_LENGTH", "Authorship", "Conflict", "Disclosure",
    "ModerationAction", "ModerationActionQuerySet", "ModerationKind", "Paid", "Party",
    "Polarity", "Position", "PositionProposal", "Post", "PostKeyword", "PostQuerySet",
    "PostStance", "PostStatus", "ProposalStatus", "Report", "ReportQuerySet",
    "ReportReason", "ReportStatus", "ReportedPost", "Stance", "Suspension",
    "SuspensionQuerySet", "Topic", "TopicQuerySet", "not_blank",
]  # fmt: skip
