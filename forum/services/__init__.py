"""The rules of Standpoint and every write to topics, posts and accounts.

Forms, views, the admin, commands and the API call these; nothing else writes.
Each module mirrors a part of `forum.models`; this package re-exports their
public names, so callers write `services.post_create(...)`.
"""

from .accounts import (
    MODERATORS_GROUP,
    defaults_initial,
    suspensions_lift,
    user_defaults,
    user_make_moderator,
    user_set_defaults,
    user_signup,
    user_suspend,
)
from .agents import agents_set_status
from .disclosure import DisclosureAnswers, disclosure_downgrades
from .editing import (
    EDIT_UNCHANGED,
    build_version,
    post_edit,
    post_edit_refusal,
    post_snapshot,
)
from .guards import (
    TOPIC_LOCKED,
    TOPIC_LOCKED_TO_EDITS,
    TOPIC_LOCKED_TO_PROPOSALS,
    user_suspension,
)
from .moderation import (
    posts_review,
    posts_set_status,
    revisions_redact,
    topics_set_flag,
)
from .posts import (
    DuplicatePost,
    keywords_as_spelled,
    post_create,
    post_find_duplicate,
)
from .proposals import position_propose, proposals_decide
from .reports import report_create, reports_dismiss_and_verify, reports_resolve
from .seeding import SeedResult, topic_create_from_article
from .tallies import Snapshot, tallied, tallies_apply, tallies_recount, topics_touch
from .topics import position_sync_stances, topic_save, topic_save_parts
from .validation import (
    KEYWORD_MAX_LENGTH,
    KEYWORDS_MAX,
    validate_attested,
    validate_body,
    validate_defaults,
    validate_disclosure,
    validate_keywords,
    validate_parent,
    validate_party_removal,
    validate_passage,
    validate_proposal,
    validate_reason,
    validate_report,
    validate_stances,
    validate_suspension,
    validate_topic_part,
    validate_username,
)

__all__ = [
    "agents_set_status",
    "Snapshot",
    "EDIT_UNCHANGED",
    "KEYWORDS_MAX",
    "KEYWORD_MAX_LENGTH",
    "MODERATORS_GROUP",
    "TOPIC_LOCKED",
    "TOPIC_LOCKED_TO_EDITS",
    "TOPIC_LOCKED_TO_PROPOSALS",
    "DisclosureAnswers",
    "DuplicatePost",
    "SeedResult",
    "build_version",
    "defaults_initial",
    "disclosure_downgrades",
    "keywords_as_spelled",
    "position_propose",
    "position_sync_stances",
    "post_create",
    "post_edit",
    "post_edit_refusal",
    "post_find_duplicate",
    "post_snapshot",
    "posts_review",
    "posts_set_status",
    "proposals_decide",
    "report_create",
    "reports_dismiss_and_verify",
    "reports_resolve",
    "revisions_redact",
    "suspensions_lift",
    "topic_create_from_article",
    "tallied",
    "tallies_apply",
    "tallies_recount",
    "topic_save",
    "topic_save_parts",
    "topics_touch",
    "topics_set_flag",
    "user_defaults",
    "user_make_moderator",
    "user_set_defaults",
    "user_signup",
    "user_suspend",
    "user_suspension",
    "validate_attested",
    "validate_body",
    "validate_defaults",
    "validate_disclosure",
    "validate_keywords",
    "validate_parent",
    "validate_party_removal",
    "validate_passage",
    "validate_proposal",
    "validate_reason",
    "validate_report",
    "validate_stances",
    "validate_suspension",
    "validate_topic_part",
    "validate_username",
]
