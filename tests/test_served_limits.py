"""Every flood limit holds exactly through two real workers of `manage.py serve`, no Redis.

Each limit is tried with more requests than it allows, all sent at once, so
both worker processes take some: a count kept per process would let through
up to twice the limit. The site believes X-Forwarded-For from loopback
(TRUSTED_PROXIES), so each test counts under an address of its own.
"""

import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import serve, site_database
from .test_serve import NoRedirect, manage

SLUG = "us-export-controls-frontier-ai"
PASSWORD = "a long served password"
RATES = {
    "RATE_LIMIT_POST": "3/h",
    "RATE_LIMIT_EDIT": "2/h",
    "RATE_LIMIT_REPORT": "2/d",
    "RATE_LIMIT_PROPOSE": "2/d",
    "RATE_LIMIT_SIGNUP": "3/h",
    "RATE_LIMIT_PREVIEW": "4/10m",
    "RATE_LIMIT_LOGIN": "5/15m",
    "RATE_LIMIT_LOGIN_ADDRESS": "8/15m",
}
_addresses = (f"203.0.113.{n}" for n in itertools.count(1))

# Readers with a session each (and a password), made in the site's database.
MAKE_READERS = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.utils.crypto import get_random_string
readers = {}
for name in %r:
    user = get_user_model().objects.create_user(name, password=%r)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "forum.auth.Backend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    readers[name] = [session.session_key, get_random_string(32)]
print(json.dumps(readers))
"""

COUNT = """
import json
from django.contrib.auth import get_user_model
from forum.models import PositionProposal, Post, PostRevision, Report
user = get_user_model().objects.filter(username=%r).first()
print(json.dumps({
    "posts": Post.objects.filter(author=user).count(),
    "bodies": list(Post.objects.filter(author=user).values_list("body", flat=True)),
    "revisions": PostRevision.objects.filter(post__author=user).count(),
    "reports": Report.objects.filter(reporter=user).count(),
    "proposals": PositionProposal.objects.filter(author=user).count(),
    "users": get_user_model().objects.filter(username__startswith="joiner").count(),
}))
"""


@pytest.fixture(scope="module")
def limited_site(tmp_path_factory):
    """A served site with small limits and no shared cache: counts in its database."""
    tmp = tmp_path_factory.mktemp("limits")
    env = {**RATES, "TRUSTED_PROXIES": "127.0.0.1", "REDIS_URL": "", "CACHE_URL": ""}
    with site_database(tmp, "limits") as database_url:
        yield from serve(tmp, database_url, env=env)


def readers(env, *names) -> dict[str, list[str]]:
    script = MAKE_READERS % (list(names), PASSWORD)
    return json.loads(manage(env, "shell", "-c", script))


def stored(env, username: str) -> dict:
    return json.loads(manage(env, "shell", "-c", COUNT % username))


def send(base, path, data, *, session=None, address=None, csrf="x" * 32) -> int:
    """POST `data` to `path` as a browser would (CSRF cookie and field); the status."""
    cookies = {"csrftoken": csrf}
    if session:
        cookies = {"sessionid": session[0], "csrftoken": session[1]}
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if address:
        headers["X-Forwarded-For"] = address
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": cookies["csrftoken"], **data}, doseq=True
    ).encode()
    request = urllib.request.Request(base + path, data=body, headers=headers)
    try:
        return (
            urllib.request.build_opener(NoRedirect()).open(request, timeout=60).status
        )
    except urllib.error.HTTPError as exc:
        return exc.code


def at_once(jobs) -> list[int]:
    """Run every job at the same time; their statuses, in order."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def reply(body: str) -> dict:
    return {
        "body": body,
        "stances": "supports-ban-endangers-defenders",
        "authorship": "human",
        "affiliation": "none",
        "paid": "no",
        "conflict": "none",
        "attest": "on",
    }


def test_replies_past_the_limit_are_refused_whichever_worker_takes_them(limited_site):
    base, env = limited_site
    session = readers(env, "replier")["replier"]
    path = f"/t/{SLUG}/reply/"

    statuses = at_once(
        [
            lambda n=n: send(base, path, reply(f"Reply {n}."), session=session)
            for n in range(7)
        ]
    )

    assert sorted(statuses) == [302] * 3 + [429] * 4
    assert stored(env, "replier")["posts"] == 3


def test_the_same_text_sent_at_once_makes_one_reply(limited_site):
    base, env = limited_site
    session = readers(env, "doubler")["doubler"]
    path = f"/t/{SLUG}/reply/"

    statuses = at_once(
        [lambda: send(base, path, reply("Sent four times."), session=session)] * 4
    )

    assert statuses == [302] * 4, "each leads to the one reply"
    assert stored(env, "doubler")["bodies"] == ["Sent four times."]


def test_edits_past_the_limit_are_refused(limited_site):
    base, env = limited_site
    session = readers(env, "editor")["editor"]
    assert send(base, f"/t/{SLUG}/reply/", reply("First."), session=session) == 302
    post = json.loads(
        manage(
            env,
            "shell",
            "-c",
            "from forum.models import Post; "
            "print(Post.objects.get(author__username='editor').pk)",
        )
    )

    statuses = at_once(
        [
            lambda n=n: send(
                base, f"/p/{post}/edit/", reply(f"Edit {n}."), session=session
            )
            for n in range(5)
        ]
    )

    assert sorted(statuses) == [302] * 2 + [429] * 3
    assert stored(env, "editor")["revisions"] == 3  # the first version and two edits


def test_reports_past_the_limit_are_refused(limited_site):
    base, env = limited_site
    sessions = readers(env, "reported", "reporter")
    for n in range(4):
        body = f"Report me {n}."
        assert send(
            base, f"/t/{SLUG}/reply/", reply(body), session=sessions["reported"]
        ) in (302, 429)
    posts = json.loads(
        manage(
            env,
            "shell",
            "-c",
            "import json; from forum.models import Post; print(json.dumps(list("
            "Post.objects.filter(author__username='reported').values_list('pk', "
            "flat=True))))",
        )
    )
    assert len(posts) == 3  # the posting limit let three through

    statuses = at_once(
        [
            lambda pk=pk: send(
                base,
                f"/p/{pk}/report/",
                {"reason": "spam", "note": ""},
                session=sessions["reporter"],
            )
            for pk in posts
        ]
    )

    assert sorted(statuses) == [302] * 2 + [429]
    assert stored(env, "reporter")["reports"] == 2


def test_proposals_past_the_limit_are_refused(limited_site):
    base, env = limited_site
    session = readers(env, "proposer")["proposer"]

    def propose(n):
        data = {**reply(""), "claim": f"Served claim number {n}", "summary": ""}
        return send(base, f"/t/{SLUG}/positions/propose/", data, session=session)

    statuses = at_once([lambda n=n: propose(n) for n in range(5)])

    assert sorted(statuses) == [302] * 2 + [429] * 3
    assert stored(env, "proposer")["proposals"] == 2


def test_previews_past_the_limit_are_refused(limited_site):
    base, env = limited_site
    session = readers(env, "previewer")["previewer"]
    path = f"/t/{SLUG}/reply/preview/"

    statuses = at_once(
        [lambda: send(base, path, {"body": "*Soon*"}, session=session)] * 8
    )

    assert sorted(statuses) == [200] * 4 + [429] * 4


def test_sign_ups_past_the_limit_from_one_address_are_refused(limited_site):
    base, env = limited_site
    address = next(_addresses)

    def sign_up(n):
        data = {
            "username": f"joiner{n}",
            "password1": PASSWORD,
            "password2": PASSWORD,
        }
        return send(base, "/accounts/signup/", data, address=address)

    statuses = at_once([lambda n=n: sign_up(n) for n in range(6)])

    assert sorted(statuses) == [302] * 3 + [429] * 3
    assert stored(env, "nobody")["users"] == 3


def sign_in(base, username, password, address) -> int:
    data = {"username": username, "password": password}
    return send(base, "/accounts/login/", data, address=address)


def test_sign_in_cools_off_after_five_failures_whichever_worker_counts(limited_site):
    base, env = limited_site
    readers(env, "guarded")
    address = next(_addresses)

    statuses = at_once(
        [lambda n=n: sign_in(base, "guarded", f"guess {n}", address) for n in range(10)]
    )

    assert sorted(statuses) == [200] * 5 + [429] * 5
    assert sign_in(base, "guarded", PASSWORD, address) == 429
    assert sign_in(base, "guarded", PASSWORD, next(_addresses)) == 302


def test_one_address_cannot_try_a_password_against_every_username(limited_site):
    base, env = limited_site
    names = [f"target{n}" for n in range(12)]
    readers(env, *names)
    address = next(_addresses)

    statuses = at_once(
        [lambda name=name: sign_in(base, name, "password1", address) for name in names]
    )

    assert sorted(statuses) == [200] * 8 + [429] * 4
    # Right passwords are refused too from that address, not from another.
    assert sign_in(base, "target0", PASSWORD, address) == 429
    assert sign_in(base, "target0", PASSWORD, next(_addresses)) == 302
