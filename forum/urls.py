"""Public paths and form field names are a contract: tests hold them."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import feeds, views
from .api import api
from .forms import AdminSignInForm

urlpatterns = [
    path("", views.topic_list, name="topic-list"),
    path("t/<slug:slug>/", views.topic_detail, name="topic-detail"),
    path("t/<slug:slug>/reply/", views.post_create, name="post-create"),
    path("t/<slug:slug>/feed.atom", feeds.topic_feed, name="topic-feed"),
    path("t/<slug:slug>/watch/", views.topic_watch, name="topic-watch"),
    path("t/<slug:slug>/reply/preview/", views.reply_preview, name="reply-preview"),
    path(
        "t/<slug:slug>/positions/propose/",
        views.position_propose,
        name="position-propose",
    ),
    path("p/<int:pk>/", views.post_detail, name="post-detail"),
    path("p/<int:pk>/report/", views.post_report, name="post-report"),
    path("p/<int:pk>/edit/", views.post_edit, name="post-edit"),
    path("p/<int:pk>/history/", views.post_history, name="post-history"),
    path("p/<int:pk>/disclosure.json", views.post_disclosure, name="post-disclosure"),
    path("u/<str:username>/", views.profile, name="profile"),
    path("u/<str:username>/block/", views.user_block, name="user-block"),
    path(
        "u/<str:username>/defaults/",
        views.profile_defaults_history,
        name="profile-defaults-history",
    ),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
    path("notifications/<int:pk>/", views.notification_open, name="notification-open"),
    path("notifications/topics/", views.followed_topics, name="followed-topics"),
    path(
        "notifications/settings/",
        views.notification_settings,
        name="notifications-settings",
    ),
    path(
        "notifications/settings/address/",
        views.notification_address,
        name="notifications-address",
    ),
    path(
        "notifications/settings/address/remove/",
        views.notification_address_remove,
        name="notifications-address-remove",
    ),
    path(
        "notifications/verify/<str:token>/",
        views.notification_verify,
        name="notifications-verify",
    ),
    path(
        "notifications/unsubscribe/<str:token>/",
        views.notification_unsubscribe,
        name="notifications-unsubscribe",
    ),
    path("moderation/", views.moderation_log, name="moderation-log"),
    path("moderation/feed.atom", feeds.moderation_feed, name="moderation-feed"),
    path("feeds/latest.atom", feeds.latest_feed, name="latest-feed"),
    path("search/", views.search_page, name="search"),
    path("api/v1/", api.urls),
    path("data/<slug:slug>/datapackage.json", views.data_package, name="data-package"),
    path("data/<slug:slug>/<str:name>", views.data_file, name="data-file"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile_defaults, name="profile-defaults"),
    path("accounts/agents/", views.agent_list, name="agent-list"),
    path("accounts/agents/<int:pk>/", views.agent_detail, name="agent-detail"),
    path("accounts/agents/<int:pk>/retire/", views.agent_retire, name="agent-retire"),
    path(
        "accounts/agents/<int:pk>/tokens/<int:token_pk>/revoke/",
        views.token_revoke,
        name="agent-token-revoke",
    ),
    # Ahead of admin.site.urls, which would serve its own unthrottled sign-in.
    path("admin/login/", views.admin_login),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]

# Django finds 400.html, 403.html, 404.html by name; this one also answers 503.
handler500 = "forum.views.server_error"

admin.site.login_form = AdminSignInForm
admin.site.site_header = "Standpoint moderation"
admin.site.site_title = "Standpoint moderation"
admin.site.index_title = "Moderation"
