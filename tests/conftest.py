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
import redis
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.urls import reverse

from forum import services
from forum.models import Party, Position

from .factories import make_topic, make_user

# Set in CI's PostgreSQL + Redis run (.ci/run), like STANDPOINT_REQUIRE_BROWSER:
# a test that needs the server then fails without it, instead of skipping, so
# a server that did not start cannot pass that run unnoticed.
REQUIRE_POSTGRES = "STANDPOINT_REQUIRE_POSTGRES"
REQUIRE_REDIS = "STANDPOINT_REQUIRE_REDIS"


def unavailable(flag: str, reason: str):
    """Skip the test for `reason`, or fail it when the environment sets `flag`."""
    if os.environ.get(flag):
        pytest.fail(f"{reason}; {flag} is set, so this run needs it", pytrace=False)
    pytest.skip(reason)


def redis_trouble(client: redis.Redis | None = None) -> str | None:
    """Why Redis (`client`, else the one at REDIS_URL) cannot be used; None if it answers PING."""
    if client is not None:
        return _no_pong(client)
    url = os.environ.get("REDIS_URL")
    if not url:
        return "REDIS_URL is not set"
    with redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3) as own:
        return _no_pong(own)


def _no_pong(client: redis.Redis) -> str | None:
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis does not answer PING ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture
def needs_postgres():
    """For tests of what only PostgreSQL does (row locks, deadlocks)."""
    if connection.vendor != "postgresql":
        unavailable(
            REQUIRE_POSTGRES,
            f"needs PostgreSQL (DATABASE_URL=postgres://…); the database is "
            f"{connection.vendor}",
        )


@pytest.fixture
def needs_redis():
    """For tests of a Redis shared by several processes, at REDIS_URL."""
    if trouble := redis_trouble():
        unavailable(REQUIRE_REDIS, f"needs Redis at REDIS_URL: {trouble}")


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
