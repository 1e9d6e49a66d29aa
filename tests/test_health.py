"""How the site reports and degrades: /healthz, and 503 when the database is busy."""

import http.cookiejar
import logging
import sqlite3
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import OperationalError, connections
from psycopg import errors as pg_errors

from .conftest import serve

BUSY = "The site is busy"


def reply_data() -> dict[str, str]:
    return {
        "body": "A reply that meets a locked database.",
        "stances": "supports-ban-endangers-defenders",
        "authorship": "human",
        "affiliation": "none",
        "paid": "no",
        "conflict": "none",
        "attest": "on",
    }


# /healthz -------------------------------------------------------------------


def test_healthz_answers_ok_after_one_query_without_session_or_caching(
    client, db, django_assert_num_queries
):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    report = response.json()
    assert (report.pop("status"), report.pop("database"), report.pop("cache")) == (
        "ok",
        "ok",
        "ok",
    )
    # The counts' cache is reported when it is a cache of its own.
    assert report in ({}, {"limits_cache": "ok"})
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert "Cookie" not in response.get("Vary", ""), "the session was not read"
    assert not response.cookies


def test_healthz_answers_head_for_load_balancers(client, db):
    assert client.head("/healthz").status_code == 200


def test_healthz_answers_503_when_the_database_fails(client, db, monkeypatch, caplog):
    def unreachable():
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR):
        patch.setattr(connections["default"], "cursor", unreachable)
        response = client.get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert (report["status"], report["database"]) == (
        "unavailable",
        "down: OperationalError",
    )
    assert report["cache"] == "ok"
    assert "no-store" in response["Cache-Control"]
    assert "Health check" in caplog.text


def test_healthz_is_not_redirected_to_https_but_pages_are(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/").status_code == 301
    assert client.get("/healthz").status_code == 200


# 503 when the database is busy ----------------------------------------------


def chained(cause: Exception) -> OperationalError:
    """A driver error as Django raises it: wrapped, with the original as cause."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("database is locked"),
        chained(pg_errors.LockNotAvailable("could not obtain lock")),
        chained(pg_errors.SerializationFailure("could not serialize access")),
        chained(pg_errors.DeadlockDetected("deadlock detected")),
    ],
    ids=["sqlite-locked", "pg-lock", "pg-serialization", "pg-deadlock"],
)
def test_reply_meeting_a_busy_database_answers_503_with_retry_after(
    client, user, topic, monkeypatch, caplog, error
):
    def busy(**kwargs):
        raise error

    monkeypatch.setattr("forum.services.post_create", busy)
    client.force_login(user)
    data = reply_data()
    with caplog.at_level(logging.WARNING, logger="forum.views.base"):
        response = client.post(f"/t/{topic.slug}/reply/", data)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert BUSY in body
    assert "send it again in 5 seconds" in body
    assert data["body"] in body, "the form comes back as typed"
    [record] = [r for r in caplog.records if r.name == "forum.views.base"]
    assert record.levelno == logging.WARNING
    assert f"/t/{topic.slug}/reply/" in record.getMessage()


def test_other_database_errors_stay_500(client, user, topic, monkeypatch):
    def broken(**kwargs):
        raise OperationalError("no such table: forum_post")

    monkeypatch.setattr("forum.services.post_create", broken)
    client.force_login(user)
    client.raise_request_exception = False
    response = client.post(f"/t/{topic.slug}/reply/", reply_data())
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_lock_met_after_the_view_still_answers_503(client, db, monkeypatch):
    def session_save_locked(self, request, response):
        raise OperationalError("database is locked")

    # The session is saved after the view, out of process_exception's reach.
    monkeypatch.setattr(SessionMiddleware, "process_response", session_save_locked)
    client.raise_request_exception = False
    response = client.get("/accounts/login/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert BUSY in response.content.decode()


@pytest.fixture
def served(tmp_path):
    """`manage.py serve` on its own SQLite file with a 1-second busy timeout."""
    database = tmp_path / "busy.sqlite3"
    for base, _ in serve(
        tmp_path,
        f"sqlite:///{database}",
        args=("--workers", "1", "--no-seed"),
        env={"SQLITE_BUSY_TIMEOUT": "1"},
    ):
        yield base, database


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_write_held_past_the_busy_timeout_answers_503_then_succeeds_on_retry(
    served,
):
    base, database = served
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect()
    )
    opener.open(base + "/accounts/signup/")
    token = next(c.value for c in jar if c.name == "csrftoken")
    signup = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": "patient",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
        }
    ).encode()

    def send():
        try:
            response = opener.open(base + "/accounts/signup/", signup, timeout=30)
        except urllib.error.HTTPError as exc:
            response = exc
        return response.status, response.headers, response.read().decode()

    # Another process holds the write lock longer than the 1-second busy timeout.
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        status, headers, body = send()
    finally:
        holder.rollback()
        holder.close()
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert BUSY in body

    status, headers, _ = send()
    assert status == 302
    assert headers["Location"] == "/"
