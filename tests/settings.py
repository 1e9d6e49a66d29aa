"""The site's settings for a test run, with a secret key set before they load.

pytest-django imports the settings before any conftest.py, so a conftest cannot
supply SECRET_KEY; the other test tweaks sit here beside it.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret")

from forum.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic in tests: plain storage needs no manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the app folders, as in development; no collected root.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# A file for SQLite's test database, as the served site has: in memory, SQLite
# shares one cache between connections and refuses a second writer at once
# ("database table is locked") where a file waits its turn (the busy timeout).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(BASE_DIR / "var" / "test-standpoint.sqlite3")  # noqa: F405
    }
