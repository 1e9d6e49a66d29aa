"""Pages: read without an account, sign up to post. Views fetch, validate, call one service.

One module per area: threads (the list, the thread page and how it is
assembled), posting (every page that writes), records (histories, profiles,
the moderation log), data (open-data downloads), accounts, and site (health, errors). `base` holds what
they share, above all `submit`, the one way a posted form is answered.
"""

from .accounts import admin_login, login_view, profile_defaults, signup
from .agents import agent_detail, agent_list, agent_retire, token_revoke
from .data import data_file, data_package
from .notifications import (
    followed_topics,
    notification_address,
    notification_address_remove,
    notification_list,
    notification_open,
    notification_settings,
    notification_unsubscribe,
    notification_verify,
    notifications_read,
    topic_watch,
    user_block,
)
from .posting import (
    position_propose,
    post_create,
    post_edit,
    post_report,
    reply_preview,
)
from .records import (
    moderation_log,
    post_disclosure,
    post_history,
    profile,
    profile_defaults_history,
)
from .search import search_page
from .site import healthz, server_error
from .threads import post_detail, topic_detail, topic_list

__all__ = [
    "followed_topics",
    "notification_address",
    "notification_address_remove",
    "notification_list",
    "notification_open",
    "notification_settings",
    "notification_unsubscribe",
    "notification_verify",
    "notifications_read",
    "topic_watch",
    "user_block",
    "admin_login",
    "agent_detail",
    "agent_list",
    "agent_retire",
    "token_revoke",
    "data_file",
    "data_package",
    "healthz",
    "login_view",
    "moderation_log",
    "position_propose",
    "post_create",
    "post_detail",
    "post_disclosure",
    "post_edit",
    "post_history",
    "post_report",
    "profile",
    "profile_defaults",
    "profile_defaults_history",
    "reply_preview",
    "search_page",
    "server_error",
    "signup",
    "topic_detail",
    "topic_list",
]
