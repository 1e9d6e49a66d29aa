import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from forum import services
from forum.models import Party, Position

from .factories import make_topic, make_user


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached pages and flood counts must not leak from one test into the next."""
    for alias in settings.CACHES:
        caches[alias].clear()


class CsrfClient(Client):
    """A client held to CSRF like a browser: each POST carries the token its pages set."""

    def __init__(self, **kwargs):
        super().__init__(enforce_csrf_checks=True, **kwargs)

    def post(self, path, data=None, **extra):
        if "csrftoken" not in self.cookies:
            self.get(path)  # the form page a browser would have shown first
        if "csrftoken" not in self.cookies:
            self.get(reverse("login"))
        token = self.cookies["csrftoken"].value
        return super().post(
            path, {"csrfmiddlewaretoken": token, **(data or {})}, **extra
        )


@pytest.fixture
def csrf_client(db):
    return CsrfClient()


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def moderator(db):
    moderator = make_user(username="moderator")
    services.user_make_moderator(user=moderator)
    return moderator


@pytest.fixture
def other_topic(db):
    """A second debate whose party and position slugs `topic` does not have."""
    other = make_topic(title="Another debate")
    Party.objects.create(topic=other, name="Amazon", slug="amazon")
    position = Position.objects.create(
        topic=other, slug="export-rules-work", claim="Export rules work", order=5
    )
    services.position_sync_stances(position=position)
    return other


@pytest.fixture
def topic(db):
    return make_topic()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def site_database(tmp, name: str = "site"):
    """Yield the URL of an empty database `name` for a served site, on the run's backend.

    SQLite gets a file in `tmp` (the in-memory test database hides locking);
    PostgreSQL a database of its own on the run's server, dropped afterwards.
    Sites alive at once need different names.
    """
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{tmp / f'{name}.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    # Named like pytest-django's test database, so no real database is touched.
    name = f"test_{url.path.lstrip('/')}_{name}"
    server = {
        "dbname": "postgres",
        **{k.lower(): db[k] for k in ("USER", "PASSWORD", "HOST", "PORT") if db[k]},
        **db["OPTIONS"],
    }

    def run(statement: str) -> None:
        with psycopg.connect(**server, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    run("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    run("CREATE DATABASE {}")
    try:
        yield url._replace(path=f"/{name}").geturl()
    finally:
        run("DROP DATABASE IF EXISTS {} WITH (FORCE)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served site on a database of its own; yields (base_url, env)."""
    tmp = tmp_path_factory.mktemp("serve")
    with site_database(tmp) as database_url:
        yield from serve(tmp, database_url)


def serve(tmp, database_url: str, *, args=("--workers", "2"), env=None):
    """Run `manage.py serve` on `database_url`; yield (base_url, env), then stop it.

    `args` go to serve, `env` on top of the environment. Its output goes to a
    file: an unread pipe fills up and stalls the workers.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "serve-test-secret",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "forum.settings",
        **(env or {}),
    }
    port = free_port()
    argv = [sys.executable, "manage.py", "serve", "--port", str(port), *args]
    with (tmp / "serve.log").open("w") as log:
        server = subprocess.Popen(
            argv,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    server.wait()
                    output = (tmp / "serve.log").read_text()
                    pytest.fail("serve did not start:\n" + output)
                time.sleep(0.3)
        yield base, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
