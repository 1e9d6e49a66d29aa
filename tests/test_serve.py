"""The quick start's `manage.py serve`, run for real: gunicorn, a file database, HTTP.

Also the concurrency check the in-memory test database cannot make: several
clients post at once through two worker processes on one SQLite file.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def post_reply(base: str, session: list[str], body: str, **more) -> int:
    session_key, csrf_secret = session
    data = urllib.parse.urlencode(
        {
            **more,
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


LATEST = """
import json
from forum.models import Post
print(json.dumps(Post.objects.filter(body=%r).values_list("pk", flat=True).first()))
"""


def read_page(base: str, session: list[str], path: str) -> str:
    request = urllib.request.Request(
        base + path, headers={"Cookie": f"sessionid={session[0]}"}
    )
    return urllib.request.urlopen(request, timeout=30).read().decode()


def test_the_served_sites_worker_tells_a_reader_of_a_reply(site):
    """`serve` runs a task worker beside the web workers: a reply to someone's
    reply reaches their notifications without anything else running."""
    base, env = site
    # Accounts of their own: other tests on this site make "writer<n>".
    script = MAKE_SESSIONS.replace('f"writer{i}"', 'f"told{i}"') % 2
    alice, bob = json.loads(manage(env, "shell", "-c", script))
    assert post_reply(base, alice, "Alice's served reply.") == 302
    first = json.loads(manage(env, "shell", "-c", LATEST % "Alice's served reply."))
    assert post_reply(base, bob, "Bob answers Alice.", parent=first) == 302
    deadline = time.monotonic() + 30
    while "replied to you" not in (shown := read_page(base, alice, "/notifications/")):
        assert time.monotonic() < deadline, shown[-2000:]
        time.sleep(0.5)
    assert 'class="unread-count" aria-label="1 unread">1<' in shown


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_stopping_serve_stops_its_web_server_and_its_worker(tmp_path):
    with site_database(tmp_path, "stopping") as database_url:
        before = children(os.getpid())
        served = serve(tmp_path, database_url, args=("--workers", "1"))
        next(served)
        (process,) = children(os.getpid()) - before
        kids = children(process)
        commands = [Path(f"/proc/{p}/cmdline").read_bytes() for p in kids]
        assert any(b"granian" in c for c in commands)
        assert any(b"worker" in c for c in commands)
        served.close()  # SIGTERM, as a process manager stops it
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{p}").exists() for p in kids):
            assert time.monotonic() < deadline, "a child of serve outlived it"
            time.sleep(0.2)


REPLY_PAIR = """
import json
from django.contrib.auth import get_user_model
from forum import services
from forum.models import Stance, Topic
topic = Topic.objects.get(slug=%r)
plain = {"affiliation": "none", "paid": "no", "conflict": "none", "authorship": "human"}
stances = [Stance.objects.get(slug="supports-ban-endangers-defenders")]
alice, bob = (get_user_model().objects.create_user(n) for n in ("rq-alice", "rq-bob"))
first = services.post_create(topic=topic, author=alice, body="On RQ.", attested=True,
    stances=stances, disclosure=services.DisclosureAnswers(**plain))
services.post_create(topic=topic, author=bob, body="Answered on RQ.", attested=True,
    stances=stances, disclosure=services.DisclosureAnswers(**plain), parent=first)
"""

TOLD = """
import json
from forum.models import Notification
print(json.dumps(list(Notification.objects.values_list("recipient__username", "kind"))))
"""


def test_a_redis_queue_runs_the_same_tasks(needs_redis, tmp_path):
    """TASKS_URL moves the queue to Redis (RQ); `manage.py worker` runs it."""
    pytest.importorskip("django_tasks_rq")
    with site_database(tmp_path, "rq") as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "rq-test-secret",
            "TASKS_URL": os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/3",
        }
        manage(env, "migrate")
        manage(env, "seed")
        manage(env, "shell", "-c", REPLY_PAIR % SLUG)
        assert json.loads(manage(env, "shell", "-c", TOLD)) == []  # queued in Redis
        manage(env, "worker", "--batch")
        assert json.loads(manage(env, "shell", "-c", TOLD)) == [["rq-alice", "reply"]]


# A child that counts the signals it gets, then exits after a moment (a task
# finishing): a second signal in that moment is counted too.
COUNTING_CHILD = """
import pathlib, signal, sys, time
path, got = pathlib.Path(sys.argv[1]), []
for name in ("SIGTERM", "SIGINT"):
    signal.signal(getattr(signal, name), lambda signum, frame: got.append(signum))
path.write_text("ready")
while not got:
    time.sleep(0.05)
time.sleep(1.5)
path.write_text(",".join(signal.Signals(s).name for s in got))
"""


def test_serve_asks_its_web_server_and_worker_to_stop_once(tmp_path):
    """Ctrl-C in a terminal signals the whole group; each child must still be
    asked once (a second signal makes the task worker abandon its task)."""
    files = {name: tmp_path / name for name in ("server", "worker")}
    argv = {n: [sys.executable, "-c", COUNTING_CHILD, str(f)] for n, f in files.items()}
    code = (
        "import sys\n"
        "from forum.management.commands.serve import supervise\n"
        f"sys.exit(supervise({argv['server']!r}, {argv['worker']!r}))"
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, start_new_session=True
    )
    deadline = time.monotonic() + 20
    while not all(f.exists() and f.read_text() == "ready" for f in files.values()):
        assert time.monotonic() < deadline, "the children did not start"
        time.sleep(0.1)
    os.killpg(supervisor.pid, signal.SIGINT)  # as a terminal's Ctrl-C
    assert supervisor.wait(timeout=30) == 0
    assert {n: f.read_text() for n, f in files.items()} == {
        "server": "SIGTERM",
        "worker": "SIGTERM",
    }
