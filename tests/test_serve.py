"""The quick start's `manage.py serve`, run for real: gunicorn, a file database, HTTP.

Also the concurrency check the in-memory test database cannot make: several
clients post at once through two worker processes on one SQLite file.
"""

import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from .conftest import serve, site_database

SLUG = "us-export-controls-frontier-ai"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def manage(env, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args, "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_serve_migrates_seeds_and_serves_pages_and_static_files(site):
    base, _ = site
    home = urllib.request.urlopen(base + "/").read().decode()
    assert "Security experts call the US ban" in home
    thread = urllib.request.urlopen(f"{base}/t/{SLUG}/").read().decode()
    assert "Anthropic is a party to this debate" in thread
    css = re.search(r'href="(/static/forum/site\.[0-9a-f]+\.css)"', thread)
    assert css, "stylesheet should be served under its hashed name"
    response = urllib.request.urlopen(base + css.group(1))
    assert response.status == 200
    assert "max-age=315360000" in response.headers["Cache-Control"]


CLIENTS = 50
POSTS_EACH = 2

# Sessions made in the site's own database: fifty password logins would only
# time the password hasher.
MAKE_SESSIONS = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.utils.crypto import get_random_string
sessions = []
for i in range(%d):
    user = get_user_model().objects.create_user(f"writer{i}")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "forum.auth.Backend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    sessions.append([session.session_key, get_random_string(32)])
print(json.dumps(sessions))
"""

STORED = """
import json
from forum.models import Position, Post, Topic
topic = Topic.objects.get(slug="%s")
print(json.dumps({
    "bodies": list(Post.objects.filter(topic=topic).values_list("body", flat=True)),
    "reply_count": topic.reply_count,
    "supports": Position.objects.get(topic=topic, slug="ban-endangers-defenders").support_count,
}))
"""


def post_reply(base: str, session: list[str], body: str) -> int:
    session_key, csrf_secret = session
    data = urllib.parse.urlencode(
        {
            # The CSRF cookie holds the secret; a form may send it unmasked.
            "csrfmiddlewaretoken": csrf_secret,
            "body": body,
            "stances": "supports-ban-endangers-defenders",
            "authorship": "human",
            "affiliation": "none",
            "paid": "no",
            "conflict": "none",
            "attest": "on",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/t/{SLUG}/reply/",
        data=data,
        headers={"Cookie": f"sessionid={session_key}; csrftoken={csrf_secret}"},
    )
    opener = urllib.request.build_opener(NoRedirect())
    try:
        return opener.open(request, timeout=120).status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def unthrottled_site(tmp_path_factory):
    """A served site without the per-user posting limit: this measures lost writes."""
    tmp = tmp_path_factory.mktemp("unthrottled")
    with site_database(tmp, "unthrottled") as database_url:
        yield from serve(tmp, database_url, env={"RATE_LIMIT_POST": "off"})


def test_fifty_clients_posting_at_once_through_two_workers_lose_nothing(
    unthrottled_site,
):
    """Every acknowledged reply is stored once, and the stored counts agree."""
    base, env = unthrottled_site
    sessions = json.loads(manage(env, "shell", "-c", MAKE_SESSIONS % CLIENTS))
    jobs = [
        (sessions[n], f"Concurrent reply {n}-{i}.")
        for n in range(CLIENTS)
        for i in range(POSTS_EACH)
    ]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = list(pool.map(lambda job: post_reply(base, *job), jobs))

    acknowledged = {
        body for (_, body), status in zip(jobs, statuses, strict=True) if status == 302
    }
    assert statuses == [302] * len(jobs)
    stored = json.loads(manage(env, "shell", "-c", STORED % SLUG))
    bodies = [b for b in stored["bodies"] if b.startswith("Concurrent reply")]
    assert sorted(bodies) == sorted(acknowledged)  # none lost, none doubled
    assert stored["reply_count"] == len(stored["bodies"])
    assert stored["supports"] == len(bodies)


def test_posting_limit_holds_across_workers_sharing_a_redis_cache(needs_redis, site):
    """A second reply within ten seconds is refused whichever worker takes it."""
    base, env = site
    sessions = json.loads(manage(env, "shell", "-c", MAKE_SESSIONS % 8))
    jobs = [
        (session, f"Quick reply {n}-{i}.")
        for n, session in enumerate(sessions)
        for i in range(2)
    ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda job: post_reply(base, *job), jobs))

    assert sorted(statuses) == [302] * 8 + [429] * 8
