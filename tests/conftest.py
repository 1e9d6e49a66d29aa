import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.core.cache import cache

from forum.services import user_make_moderator

from .factories import make_topic, make_user


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached pages must not leak from one test into the next."""
    cache.clear()


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def moderator(db):
    moderator = make_user(username="moderator")
    user_make_moderator(user=moderator)
    return moderator


@pytest.fixture
def topic(db):
    return make_topic()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served site on its own SQLite file; yields (base_url, env)."""
    tmp = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'site.sqlite3'}",
        "SECRET_KEY": "serve-test-secret",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "forum.settings",
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
                    pytest.fail("serve did not start:\n" + server.stdout.read())
                time.sleep(0.3)
        yield base, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
