"""Standpoint settings: one module, read from the environment with safe dev defaults."""

import hashlib
import os
from pathlib import Path

import dj_database_url
import dj_email_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for "
            "local development (manage.py commands create one under var/ for you)."
        )
    SECRET_KEY = "django-insecure-development-only-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "taggit",
    "csp",
    # Its docs page's scripts and styles, served from here (the CSP allows no CDN).
    "ninja",
    # Django's tasks API (a backport until Django 6) and its database queue.
    "django_tasks",
    "django_tasks_db",
    "forum",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "forum.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Every answer under /api/ and /data/ is JSON, errors from anywhere included.
    "forum.middleware.JsonErrorsMiddleware",
    # Before anything reads a form: a body its charset cannot read is a 400.
    "forum.middleware.RequestCharsetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "forum.middleware.DatabaseFailureMiddleware",
]

ROOT_URLCONF = "forum.urls"
WSGI_APPLICATION = "forum.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "forum.context.site",
                "forum.context.notifications",
            ],
        },
    },
]

# SQLite by default, in var/ so a checkout stays clean. WAL lets readers run beside
# the writer; IMMEDIATE takes the write lock at BEGIN, so two writers queue on the
# busy timeout instead of one failing mid-transaction with "database is locked".
SQLITE_PATH = BASE_DIR / "var" / "standpoint.sqlite3"
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{SQLITE_PATH}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = None  # a sync worker keeps its connection
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        # Seconds a write waits for the lock; past it the request answers 503.
        "timeout": float(os.environ.get("SQLITE_BUSY_TIMEOUT", "20")),
        "init_command": ("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"),
    }
    if str(DATABASES["default"]["NAME"]) == str(SQLITE_PATH):
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def cache_from_url(url: str) -> dict:
    """A CACHES entry from a URL: redis://, rediss://, unix:// (Redis), locmem://, dummy://."""
    scheme = url.split(":", 1)[0]
    if scheme in {"redis", "rediss", "unix"}:
        backend = "django.core.cache.backends.redis.RedisCache"
        return {
            "BACKEND": backend,
            "LOCATION": url,
            "KEY_PREFIX": "standpoint",
            # A Redis that stops answering costs a request a second at most:
            # pages are then built without it (forum.caching).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    if scheme == "locmem":
        backend = "django.core.cache.backends.locmem.LocMemCache"
        return {
            "BACKEND": backend,
            "LOCATION": url.split("://", 1)[-1],
            "OPTIONS": {
                "MAX_ENTRIES": int(os.environ.get("CACHE_MAX_ENTRIES", "10000"))
            },
        }
    if scheme == "dummy":
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(f"CACHE_URL scheme {scheme!r} is not supported.")


# Local memory is per process: right for pages, which are revalidated against
# the database, though each worker keeps its own copy. Flood limits count in
# the database unless Redis serves them (STANDPOINT_LIMIT_COUNTS below).
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
CACHES = {
    "default": cache_from_url(CACHE_URL or "locmem://"),
    # Flood-control counts (forum/limits.py), apart so that no flood of page
    # views evicts them. With Redis, give it room (maxmemory-policy noeviction),
    # or a server of its own with LIMITS_CACHE_URL.
    "limits": cache_from_url(
        os.environ.get("LIMITS_CACHE_URL") or CACHE_URL or "locmem://limits"
    ),
}
if CACHES["limits"]["BACKEND"].endswith("LocMemCache"):
    CACHES["limits"]["OPTIONS"] = {"MAX_ENTRIES": 100_000}
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    # Each worker's memory, and stored pages in files all workers of this
    # machine share (forum/localcache.py), one folder per database.
    CACHES["default"]["BACKEND"] = "forum.localcache.SharedLocalCache"
    _database = f"{DATABASES['default'].get('HOST')}/{DATABASES['default']['NAME']}"
    CACHES["default"]["OPTIONS"]["DIRECTORY"] = (
        Path(os.environ.get("CACHE_DIR", BASE_DIR / "var" / "cache"))
        / hashlib.sha256(_database.encode()).hexdigest()[:16]
    )
# Where flood-control counts live (forum/limits.py): "cache" when Redis serves
# the limits cache, shared by every worker and machine and falling back to the
# database while it is down; otherwise "database", shared by every worker with
# nothing else to run. A local-memory cache would count per process.
STANDPOINT_LIMIT_COUNTS = (
    "cache" if CACHES["limits"]["BACKEND"].endswith("RedisCache") else "database"
)

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "topic-list"
LOGOUT_REDIRECT_URL = "topic-list"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Security headers that cost nothing in development.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# The database's sessions and users, each read by one plain query (forum/auth.py).
SESSION_ENGINE = "forum.auth"
AUTHENTICATION_BACKENDS = ["forum.auth.Backend"]
# No inline script or style anywhere: templates and the admin load files only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# Load balancers probe over plain HTTP from inside; a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
HTTPS = env_bool("HTTPS")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    # On by default so `check --deploy` is clean; preload consents to browsers'
    # built-in HTTPS-only list, which takes months to leave: set 0 to withhold it.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Taggit: keyword tags match case-insensitively, so "Export" and "export" are one tag.
TAGGIT_CASE_INSENSITIVE = True

STANDPOINT_POSTS_PER_PAGE = int(os.environ.get("POSTS_PER_PAGE", "20"))

# Moderation. Reports from this many distinct readers hide a post pending review.
STANDPOINT_REPORT_THRESHOLD = int(os.environ.get("REPORT_THRESHOLD", "3"))
# The public log says "a moderator" unless this names them.
STANDPOINT_LOG_SHOWS_MODERATORS = env_bool("MODERATION_LOG_NAMES")
# Flood control (forum/limits.py): "count/period" pairs, "off" to disable one.
STANDPOINT_RATE_LIMITS = {
    "post": os.environ.get("RATE_LIMIT_POST", "1/10s, 30/h"),
    # Edits of one's own posts: each keeps a revision in the public history.
    "edit": os.environ.get("RATE_LIMIT_EDIT", "20/h"),
    # Saves of one's disclosure defaults: each keeps a public version.
    "defaults": os.environ.get("RATE_LIMIT_DEFAULTS", "10/h"),
    # Markdown previews of a reply being written: cheap, but not free.
    "preview": os.environ.get("RATE_LIMIT_PREVIEW", "60/10m"),
    "report": os.environ.get("RATE_LIMIT_REPORT", "20/d"),
    "propose": os.environ.get("RATE_LIMIT_PROPOSE", "5/d"),
    "signup": os.environ.get("RATE_LIMIT_SIGNUP", "5/h"),
    # Failed sign-ins per username and client address, then a cool-off.
    "login": os.environ.get("RATE_LIMIT_LOGIN", "5/15m"),
    # Failed sign-ins per client address, whatever the usernames tried.
    "login_address": os.environ.get("RATE_LIMIT_LOGIN_ADDRESS", "20/15m"),
    # Searches with words, per client address.
    "search": os.environ.get("RATE_LIMIT_SEARCH", "30/m"),
    # Requests to the read API and the data downloads, per client address.
    "api": os.environ.get("RATE_LIMIT_API", "600/m"),
    # Replies through the write API: per agent, and per operator across their
    # agents; stricter than people's.
    "agent_post": os.environ.get("RATE_LIMIT_AGENT_POST", "1/5m, 20/d"),
    "operator_post": os.environ.get("RATE_LIMIT_OPERATOR_POST", "1/5m, 20/d"),
    # Verification mails a reader may ask for.
    "verify_mail": os.environ.get("RATE_LIMIT_VERIFY_MAIL", "3/h, 10/d"),
}
# AI agents (forum/services/agents.py): how many one person may run, and how
# long a token lasts unless its operator says otherwise.
STANDPOINT_AGENTS_PER_OPERATOR = int(os.environ.get("AGENTS_PER_OPERATOR", "3"))
STANDPOINT_AGENT_TOKEN_DAYS = int(os.environ.get("AGENT_TOKEN_DAYS", "90"))
# How long an Idempotency-Key gives back the reply it first posted.
STANDPOINT_IDEMPOTENCY_SECONDS = int(os.environ.get("IDEMPOTENCY_SECONDS", "86400"))
# The same text from the same author within this many seconds is a duplicate.
# Open data (forum/api.py, forum/exports.py). The licence replies are published
# under: the sign-up page, the footer and every datapackage.json state it.
STANDPOINT_DATA_LICENSE = {
    "name": os.environ.get("DATA_LICENSE", "CC-BY-4.0"),
    "title": os.environ.get(
        "DATA_LICENSE_TITLE", "Creative Commons Attribution 4.0 International"
    ),
    "path": os.environ.get(
        "DATA_LICENSE_URL", "https://creativecommons.org/licenses/by/4.0/"
    ),
}
STANDPOINT_EXPORT_ROOT = Path(
    os.environ.get("EXPORT_ROOT", BASE_DIR / "var" / "exports")
)
# How long an API cursor stays good (it is signed, so it cannot be forged).
STANDPOINT_API_CURSOR_SECONDS = int(os.environ.get("API_CURSOR_SECONDS", "86400"))
STANDPOINT_DUPLICATE_SECONDS = int(os.environ.get("DUPLICATE_SECONDS", "1800"))
# Proxies whose X-Forwarded-For is believed (addresses or networks, comma-
# separated); by default none: a client can send any X-Forwarded-For it likes.
STANDPOINT_TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")

# Background work (forum/tasks.py): notifications and mail. The queue lives in
# the site's database, so the embedded default needs no other server;
# `manage.py serve` runs a worker beside the web workers (README, Notifications).
# TASKS_URL=redis://… moves the queue to Redis (RQ, `pip install -e '.[rq]'`),
# whose workers are `manage.py rqworker default`.
TASKS_URL = os.environ.get("TASKS_URL", "")
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
}
if TASKS_URL.startswith(("redis://", "rediss://", "unix://")):
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS["default"]["BACKEND"] = "django_tasks_rq.RQBackend"
    RQ_QUEUES = {"default": {"URL": TASKS_URL}}
elif TASKS_URL:
    raise ImproperlyConfigured("TASKS_URL must be a redis:// URL (or unset).")
# Mail through Django's e-mail framework, configured by one URL:
# console:// (the default: mail is printed by the worker), smtp://user:pass@host:587/?tls=True,
# smtps://..., file:///path, memory://. DEFAULT_FROM_EMAIL names the sender.
_email = dj_email_url.parse(os.environ.get("EMAIL_URL", "console://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS, EMAIL_USE_SSL = _email["EMAIL_USE_TLS"], _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"] or 30
EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"] or None
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL",
    _email.get("DEFAULT_FROM_EMAIL") or "Standpoint <notifications@localhost>",
)
# Links in mail are absolute: the site's address as readers reach it.
STANDPOINT_SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
# How long an address verification link works.
STANDPOINT_VERIFY_SECONDS = int(os.environ.get("VERIFY_SECONDS", str(3 * 86400)))
# Readers one reply can mention and so notify.
STANDPOINT_MENTIONS_MAX = 10
# A fan-out writes this many notifications per transaction and, on SQLite,
# rests this many times as long as each took, so that requests waiting to
# write get the lock between (services.notifications._store).
STANDPOINT_FAN_OUT_BATCH = int(os.environ.get("FAN_OUT_BATCH", "500"))
STANDPOINT_FAN_OUT_REST = float(os.environ.get("FAN_OUT_REST", "1"))
# The task worker's CPU niceness: background work yields the CPU to requests.
STANDPOINT_WORKER_NICE = int(os.environ.get("WORKER_NICE", "10"))
# How often the worker looks for digests that are due.
STANDPOINT_DIGEST_CHECK_SECONDS = float(os.environ.get("DIGEST_CHECK_SECONDS", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
