"""Security headers, a clean `check --deploy` in production, and the error pages."""

import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.test import Client

from forum.http import too_many_requests

from .factories import make_post, make_user

POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}


DATA_BLOCK_TYPES = {"application/ld+json", "application/json"}


class InlineCode(HTMLParser):
    """What a CSP without 'unsafe-inline' blocks: inline scripts and styles, handlers."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        # A data block (JSON-LD) is never run, so the policy does not govern it.
        runs = names.get("type") not in DATA_BLOCK_TYPES
        if (tag == "script" and "src" not in names and runs) or tag == "style":
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")


def policy(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


def assert_no_inline_code(response):
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert not parser.found, f"{response.wsgi_request.path}: {parser.found}"


def manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path, **changes) -> dict[str, str]:
    """The environment the README's "Running in production" documents."""
    ours = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "HTTPS", "CSRF_TRUSTED_ORIGINS"}
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ours and not name.startswith("SECURE_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="forum.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="debate.example.org",
        HTTPS="1",
    )
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


# Headers ------------------------------------------------------------------


def test_pages_send_the_content_security_policy_and_the_other_security_headers(
    client, topic
):
    for path in ["/", topic.get_absolute_url(), "/accounts/login/", "/no-such-page/"]:
        response = client.get(path)
        assert policy(response) == POLICY, path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path


def test_our_pages_have_no_inline_script_or_style_for_the_policy_to_block(
    client, topic
):
    make_post(topic=topic, body='<script>alert(1)</script> <b style="x">bold</b>')
    anonymous = ["/", topic.get_absolute_url(), "/accounts/login/", "/accounts/signup/"]
    for path in anonymous:
        assert_no_inline_code(client.get(path))
    client.force_login(make_user())
    signed_in = ["/", topic.get_absolute_url(), f"{topic.get_absolute_url()}reply/"]
    for path in signed_in:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_no_inline_code(response)


def test_admin_pages_load_under_the_policy_without_inline_code(client, topic):
    post = make_post(topic=topic)
    client.force_login(make_user(username="owner", is_staff=True, is_superuser=True))
    paths = [
        "/admin/",
        "/admin/forum/topic/",
        f"/admin/forum/topic/{topic.pk}/change/",
        "/admin/forum/topic/add/",
        "/admin/forum/post/",
        f"/admin/forum/post/{post.pk}/change/",
        "/admin/forum/stance/",
        "/admin/auth/user/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy(response) == POLICY, path
        assert_no_inline_code(response)


# check --deploy and the secret key -----------------------------------------


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    result = manage(
        production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_a_secret_key_and_debug_off_the_site_refuses_to_start(tmp_path):
    """As a server loads it: gunicorn imports forum.wsgi, not manage.py."""
    result = subprocess.run(
        [sys.executable, "-c", "import forum.wsgi"],
        cwd=settings.BASE_DIR,
        env=production_env(tmp_path, SECRET_KEY=None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set." in result.stderr


def test_commands_in_a_checkout_use_its_own_persistent_key(tmp_path):
    """So `manage.py check` works on a fresh clone; the key lives in var/."""
    env = production_env(tmp_path, SECRET_KEY=None)
    first = manage(
        env,
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )
    second = manage(
        env,
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )

    key = first.stdout.strip().splitlines()[-1]
    assert first.returncode == 0, first.stderr
    assert len(key) >= 50
    assert second.stdout.strip().splitlines()[-1] == key
    assert (settings.BASE_DIR / "var" / "secret_key").read_text().strip() == key


# Error pages -------------------------------------------------------------


def test_missing_page_shows_the_custom_404_in_the_site_layout(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "Skip to content" in body


def test_unhandled_error_shows_the_standalone_500_page(client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    # URL patterns hold the view functions themselves; break what they call.
    monkeypatch.setattr("forum.views.threads.render", broken)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "a bug" not in body
    assert "Sign in" not in body, "the 500 page needs no user or session"
    assert policy(response) == POLICY


def test_permission_denied_shows_the_custom_403(client, db, monkeypatch):
    def forbidden(*args, **kwargs):
        raise PermissionDenied("internal reason")

    monkeypatch.setattr("forum.views.threads.render", forbidden)
    response = client.get("/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Not allowed" in body
    assert "internal reason" not in body


def test_form_without_csrf_token_shows_the_form_expired_page(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_request_for_an_unknown_host_shows_the_custom_400(client, db):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()


def test_too_many_requests_page_says_when_to_come_back(rf, db):
    request = rf.get("/")
    request.user = AnonymousUser()
    response = too_many_requests(request, retry_after=30)
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    body = response.content.decode()
    assert "Too many requests" in body
    assert "Wait 30 seconds" in body


@pytest.mark.parametrize("name", ["500.html", "503.html"])
def test_pages_for_a_broken_site_render_without_request_or_database(name):
    body = render_to_string(name, {"retry_after": 5})
    assert 'href="/static/forum/site.css"' in body
    assert (settings.BASE_DIR / "static" / "forum" / "site.css").exists()
