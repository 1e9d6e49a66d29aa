"""Failures degrade instead of breaking: a cache that is down, storage that refuses
writes, bodies in the wrong character set, slow clients and a held write lock.

The served tests run `manage.py serve` as the README starts it (two workers) on
a file database; the slow-client test stays on loopback and is bounded in
connections and time.
"""

import json
import logging
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from forum import caching
from forum.models import Post

from .conftest import CsrfClient, free_port, serve, site_database
from .factories import PASSWORD, make_post
from .pages import reply_data, reply_url, signed_in

SLUG = "us-export-controls-frontier-ai"
STORAGE_NOTICE = "The site cannot save right now"


def dead_redis() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def cache_down(settings):
    """The page cache and the counts on a Redis that is not running."""
    url = dead_redis()
    redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
    }
    settings.CACHES = {
        "default": redis,
        "limits": {**redis, "KEY_PREFIX": "l"},
    }
    settings.STANDPOINT_LIMIT_COUNTS = "cache"
    caching._down.clear()  # what earlier tests saw go down
    yield
    caching._down.clear()


# A cache that is down ----------------------------------------------------------


def test_pages_are_built_without_a_cache_that_is_down(cache_down, client, topic):
    make_post(topic=topic, body="Still readable.")

    listing = client.get("/")
    thread = client.get(f"/t/{topic.slug}/")
    sign_in_page = client.get("/accounts/login/")
    sign_up_page = client.get("/accounts/signup/")

    assert [r.status_code for r in (listing, thread, sign_in_page, sign_up_page)] == [
        200
    ] * 4
    assert "Still readable." in thread.content.decode()


def test_signing_up_and_in_and_posting_work_with_the_cache_down(
    cache_down, topic, user
):
    joiner = CsrfClient()
    signed_up = joiner.post(
        "/accounts/signup/",
        {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD},
    )
    returning = CsrfClient()
    signed_in_now = returning.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}
    )
    posted = returning.post(reply_url(topic), reply_data(body="Posted while down."))

    assert (signed_up.status_code, signed_in_now.status_code) == (302, 302)
    assert posted.status_code == 302
    assert Post.objects.filter(body="Posted while down.").exists()


def test_limits_with_the_cache_down_count_in_the_database_never_none(
    cache_down, settings, topic, user
):
    settings.STANDPOINT_RATE_LIMITS = {**settings.STANDPOINT_RATE_LIMITS, "post": "1/h"}
    poster = signed_in(user)

    first = poster.post(reply_url(topic), reply_data(body="One."))
    second = poster.post(reply_url(topic), reply_data(body="Two."))

    assert (first.status_code, second.status_code) == (302, 429)


def test_a_cache_going_down_is_logged_once_and_coming_back_once(
    cache_down, settings, client, topic, caplog
):
    with caplog.at_level(logging.WARNING, logger="forum.caching"):
        for _ in range(3):
            client.get(f"/t/{topic.slug}/")
        settings.CACHES = {
            alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
            for alias in ("default", "limits")
        }
        for _ in range(3):
            client.get(f"/t/{topic.slug}/")
    logged = [r.getMessage() for r in caplog.records if r.name == "forum.caching"]

    # Once down and once back.
    assert len(logged) == 2, logged
    assert "'default' cache is down (ConnectionError" in logged[0]
    assert logged[1] == "The 'default' cache answers again."


def test_healthz_reports_a_cache_that_is_down_as_degraded(cache_down, client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "degraded"
    assert report["database"] == "ok"
    assert report["cache"] == "down: ConnectionError"


@pytest.fixture(scope="module")
def site_without_its_cache(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cachedown")
    env = {"CACHE_URL": dead_redis(), "REDIS_URL": ""}
    with site_database(tmp, "cachedown") as database_url:
        yield from serve(tmp, database_url, env=env)


def test_served_site_with_its_redis_down_serves_pages_and_reports_it(
    site_without_its_cache,
):
    base, _ = site_without_its_cache

    for path in ["/", f"/t/{SLUG}/", "/accounts/login/", "/accounts/signup/"]:
        assert urllib.request.urlopen(base + path, timeout=10).status == 200
    report = json.loads(urllib.request.urlopen(base + "/healthz", timeout=10).read())
    assert report["status"] == "degraded"
    assert report["cache"].startswith("down:")


# Storage that refuses writes ------------------------------------------------------


def refuse_writes(how: str) -> None:
    """Make the test database refuse writes as a full disk or a read-only file would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET default_transaction_read_only = on")
            return
        if how == "full":
            cursor.execute("PRAGMA page_count")
            (pages,) = cursor.fetchone()
            cursor.execute(f"PRAGMA max_page_count = {pages}")
        else:
            cursor.execute("PRAGMA query_only = ON")


def allow_writes() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET default_transaction_read_only = off")
        else:
            cursor.execute("PRAGMA max_page_count = 1073741823")
            cursor.execute("PRAGMA query_only = OFF")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["full", "read-only"])
def test_a_reply_the_storage_refuses_is_a_503_with_the_text_kept(how):
    from .factories import make_topic, make_user

    topic, user = make_topic(), make_user()
    poster = signed_in(user)
    poster.get(reply_url(topic))
    data = reply_data(body="Written while the disk is full. " + "x" * 3000)
    refuse_writes(how)
    try:
        response = poster.post(reply_url(topic), data)
    finally:
        allow_writes()

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    text = response.content.decode()
    assert STORAGE_NOTICE in text
    assert "everything you typed is still here" in text
    assert "Written while the disk is full." in text
    assert not Post.objects.exists()
    # Space again: the same reply goes through.
    assert poster.post(reply_url(topic), data).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_signing_in_on_storage_that_refuses_writes_is_a_503_not_a_500():
    from .factories import make_user

    user = make_user()
    client = CsrfClient()
    client.get("/accounts/login/")
    client.raise_request_exception = False
    refuse_writes("read-only")
    try:
        response = client.post(
            "/accounts/login/", {"username": user.username, "password": PASSWORD}
        )
    finally:
        allow_writes()

    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert STORAGE_NOTICE in response.content.decode()


@pytest.fixture
def small_disk(tmp_path):
    """A small filesystem of its own (8 MB: the migrations' WAL takes about 2),
    where the machine lets the tests mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the served database is a file on SQLite"
)
def test_served_site_on_a_full_disk_answers_503_then_recovers(small_disk, tmp_path):
    base_env = {"RATE_LIMIT_POST": "off", "REDIS_URL": "", "CACHE_URL": ""}
    served = serve(tmp_path, f"sqlite:///{small_disk / 'site.sqlite3'}", env=base_env)
    base, env = next(served)
    try:
        from .test_serve import MAKE_SESSIONS, manage, post_reply

        [session] = json.loads(manage(env, "shell", "-c", MAKE_SESSIONS % 1))
        filler = small_disk / "filler"
        free = shutil.disk_usage(small_disk).free
        filler.write_bytes(b"\0" * max(0, free - 64 * 1024))
        statuses = [
            post_reply(base, session, f"Filling the disk {n}. " + "y" * 15_000)
            for n in range(12)
        ]
        refused = [s for s in statuses if s != 302]
        filler.unlink()
        after = post_reply(base, session, "Space again.")
    finally:
        next(served, None)

    assert refused, "the disk never filled"
    assert set(refused) == {503}, statuses
    assert after == 302


# Bodies in the wrong character set ----------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=latin-1", b"username=%E9t%E9"),
        ("application/x-www-form-urlencoded; charset=utf-8", b"username=%FF%FE"),
        ("application/x-www-form-urlencoded; charset=nonsense", b"username=ada"),
    ],
    ids=["latin-1", "invalid utf-8", "unknown charset"],
)
def test_a_form_body_its_charset_cannot_read_is_a_400_with_a_message(
    db, content_type, body
):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value

    response = client.generic(
        "POST",
        "/accounts/login/",
        body + b"&password=x&csrfmiddlewaretoken=" + token.encode(),
        content_type=content_type,
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert "UTF-8" in text
    assert "Send it again from the page" in text


def test_a_form_in_utf_8_still_signs_in(db):
    from .factories import make_user

    user = make_user()
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    body = urlencode(
        {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )

    response = client.generic(
        "POST",
        "/accounts/login/",
        body.encode(),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )

    assert response.status_code == 302


# Slow clients and a held write lock, on the served site ----------------------------


def trickle(port: int, stop: threading.Event) -> None:
    """Send a sign-in form a byte a second, as a slow (or hostile) client does."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        token = "t" * 32
        body = f"csrfmiddlewaretoken={token}&username=ada&password=".encode() + (
            b"x" * 60
        )
        sock.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Cookie: csrftoken=" + token.encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for byte in body:
            if stop.wait(1):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return


def timed(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = urllib.request.urlopen(url, timeout=30).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.monotonic() - started


def test_fifty_slow_clients_leave_the_site_answering_within_a_second(site):
    base, _ = site
    port = int(base.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [
        threading.Thread(target=trickle, args=(port, stop), daemon=True)
        for _ in range(50)
    ]
    for thread in slow:
        thread.start()
    try:
        time.sleep(3)  # every slow client has sent its headers and started its body
        answers = [timed(base + path) for path in ["/healthz", f"/t/{SLUG}/"] * 3]
    finally:
        stop.set()
        for thread in slow:
            thread.join(10)

    assert [status for status, _ in answers] == [200] * 6
    assert max(seconds for _, seconds in answers) < 1.0, answers


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="a write lock on the SQLite file"
)
def test_a_held_write_lock_does_not_stall_readers(site):
    base, env = site
    from .test_serve import MAKE_SESSIONS, manage, post_reply

    [session] = json.loads(manage(env, "shell", "-c", MAKE_SESSIONS % 1))
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    writers = [
        threading.Thread(
            target=post_reply, args=(base, session, f"Waiting writer {n}."), daemon=True
        )
        for n in range(3)
    ]
    try:
        for writer in writers:
            writer.start()  # each waits for the lock in a thread of its own
        time.sleep(0.5)
        answers = [
            timed(base + p) for p in ["/healthz", f"/t/{SLUG}/?order=newest", "/"]
        ]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        for writer in writers:
            writer.join(30)

    assert [status for status, _ in answers] == [200] * 3
    assert max(seconds for _, seconds in answers) < 1.0, answers
