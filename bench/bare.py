"""The local upper bound: a bare Django view returning a 20 KB HttpResponse.

A project as `startproject` makes it (its apps and middleware, nothing else),
served by the same server as the site (granian and forum.serving's threads), so
the site's figures read as a ratio of what Django itself does on this machine at
this moment.
"""

import os
import sys
from pathlib import Path

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path

BODY = b"<!DOCTYPE html><title>bare</title><p>" + b"x" * (20 * 1024) + b"</p>"

settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-benchmark-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
)
django.setup()


def bare(request):
    return HttpResponse(BODY)


urlpatterns = [path("", bare)]
application = get_wsgi_application()

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from forum.serving import BufferedWSGI  # noqa: E402

asgi = BufferedWSGI(application, threads=int(os.environ.get("SERVE_THREADS", "4")))
