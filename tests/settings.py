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
