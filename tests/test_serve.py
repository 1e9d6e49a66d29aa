"""The quick start's `manage.py serve`, run for real: gunicorn, a file database, HTTP.

Also the concurrency check the in-memory test database cannot make: several
clients post at once through two worker processes on one SQLite file.
"""

import http.cookiejar
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

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


def signed_in_opener(base: str, username: str, password: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect()
    )
    opener.open(base + "/accounts/login/")
    token = next(c.value for c in jar if c.name == "csrftoken")
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    try:
        opener.open(base + "/accounts/login/", urllib.parse.urlencode(data).encode())
    except urllib.error.HTTPError as exc:
        assert exc.code == 302, exc.read()
    # Signing in rotates the CSRF token.
    return opener, next(c.value for c in jar if c.name == "csrftoken")


def post_reply(opener, token: str, base: str, number: int) -> int:
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "body": f"Concurrent reply number {number}.",
            "stances": "supports-ban-endangers-defenders",
            "authorship": "human",
            "affiliation": "none",
            "paid": "no",
            "conflict": "none",
            "attest": "on",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/t/{SLUG}/reply/", data=data, headers={"Referer": base + "/"}
    )
    try:
        return opener.open(request, timeout=60).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_concurrent_replies_through_two_workers_are_all_stored(site):
    base, env = site
    clients = 8
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; U = get_user_model()\n"
        f"for i in range({clients}): U.objects.create_user(f'writer{{i}}', password='pw-long-enough-1')",
    )
    openers = [
        signed_in_opener(base, f"writer{i}", "pw-long-enough-1") for i in range(clients)
    ]
    with ThreadPoolExecutor(max_workers=clients) as pool:
        statuses = list(
            pool.map(
                lambda i: post_reply(*openers[i], base, i),
                [i for i in range(clients) for _ in range(3)],
            )
        )
    assert statuses == [302] * len(statuses)
    count = manage(
        env, "shell", "-c", "from forum.models import Post; print(Post.objects.count())"
    )
    assert int(count) == clients * 3
