"""Benchmark notifications: posting into a watched topic, and the worker's fan-out.

    .venv/bin/python bench/notifications.py                # 10,000 watchers, 200 replies a load
    .venv/bin/python bench/notifications.py --posts 500    # steadier, longer fan-out
    .venv/bin/python bench/notifications.py --all-loads    # + watched, `serve --no-worker`

Issue 18: posting with 50 clients into a topic with 10,000 watchers stays
within 20% of posting without watchers (the fan-out runs in tasks, not in
the request), and the worker's throughput in notifications per second.

In a temporary folder (a SQLite file, removed at the end) it seeds the topic
with `--replies` replies and `--posters` signed-in posters (bench/run.py's
`prepare`), then serves the site with `manage.py serve` itself and posts
`--posts` replies from `--posters` concurrent clients, back to back, each
body unique, into the same topic:

1. no watchers, `serve` as deployed by default, its task worker running;
2. no watchers, `serve --no-worker`: the request's cost alone (the queued
   tasks are then run by `manage.py worker --batch`);
   then `--watchers` accounts (bulk-made, no usable password) watch the topic;
3. with watchers, `serve` with its worker, which fans out while the replies
   are posted; the load is timed, then the queue is left to drain;
4. only with `--all-loads`: with watchers, `serve --no-worker`, and then
   `manage.py worker --batch` drains those tasks alone (twice the fan-out,
   so about twice as long).

Each load starts with 10 untimed warm-up replies and, with the worker
running, waits until it has taken up their tasks: it is busy for the whole
timed load. It prints each load's replies/s and p50/p95 latency; the ratio of
load 3 to load 1, both with the worker running as deployed (target >= 0.80);
and the worker's notifications/s: the rows stored while load 3 was posted
(counted in the database), then from the task results' own start and finish
times, after load 3 (the worker alone) and in `worker --batch`. Then it checks
the database: every acknowledged reply stored once, every reply_published
task run once and successful, each watcher told exactly once of every reply
posted while they watched, nobody told of the others, nor anyone who does
not watch. Exit status 1 when the target or a check is missed.

Flood control is off (RATE_LIMIT_POST=off): this measures throughput. At the
defaults it takes about 8 minutes on 2 cores, most of it the worker draining
2.1 million notifications.
"""

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402
    ROOT,
    SLUG,
    NoRedirect,
    bench_env,
    free_port,
    percentile,
    post_reply,
    prepare,
    run,
    say,
)

RATIO_TARGET = 0.80  # posting with watchers / without, the worker running
PREFIX = "Notification bench"
WARMUP_POSTS = 10  # per load, untimed: each granian worker's first requests

MAKE_WATCHERS = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from forum.models import Topic, TopicReader
User = get_user_model()
topic = Topic.objects.get(slug={slug!r})
User.objects.bulk_create(
    [User(username=f"watcher-{{i}}", password=UNUSABLE_PASSWORD_PREFIX + "bench")
     for i in range({count})],
    batch_size=2000,
)
ids = User.objects.filter(username__startswith="watcher-").values_list("pk", flat=True)
TopicReader.objects.bulk_create(
    [TopicReader(user_id=pk, topic=topic, level="watching") for pk in ids],
    batch_size=2000,
)
print(json.dumps(TopicReader.objects.filter(topic=topic, level="watching").count()))
"""

# Until the worker has taken up the warm-up's tasks (or run them all): the
# timed load then starts with the worker busy, as it is for all of it.
WAIT_ENGAGED = """
import json, time
from django_tasks_db.models import DBTaskResult
started = time.monotonic()
while time.monotonic() - started < 60 and (
    DBTaskResult.objects.filter(status="READY").exists()
    and not DBTaskResult.objects.filter(status="RUNNING").exists()
):
    time.sleep(0.1)
print(json.dumps(time.monotonic() - started))
"""

WAIT_DRAINED = """
import json, time
from django_tasks_db.models import DBTaskResult
started = time.monotonic()
pending = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
while pending.exists() and time.monotonic() - started < {timeout}:
    time.sleep(0.2)
print(json.dumps(pending.count()))
"""

# Each load's replies, their tasks and the notifications they made, as JSON.
TALLY = """
import json
from collections import Counter, defaultdict
from django.db.models import Count
from django_tasks_db.models import DBTaskResult
from forum.models import Notification, Post, Topic, TopicReader
prefix = {prefix!r}
posts = dict(Post.objects.filter(body__startswith=prefix).values_list("pk", "body"))
load_of = {{pk: body[len(prefix):].split()[0] for pk, body in posts.items()}}
loads = defaultdict(lambda: {{"stored": 0, "tasks": [], "told": Counter()}})
for load in load_of.values():
    loads[load]["stored"] += 1
results = DBTaskResult.objects.filter(task_path__endswith=".reply_published")
for args, status, started, finished, value in results.values_list(
    "args_kwargs", "status", "started_at", "finished_at", "return_value"
):
    if (load := load_of.get(args["args"][0])) is not None:
        loads[load]["tasks"].append([
            status,
            started.timestamp() if started else None,
            finished.timestamp() if finished else None,
            value or 0,
        ])
told = Notification.objects.filter(post_id__in=list(posts))
for pk, n in told.values("post_id").annotate(n=Count("pk")).values_list("post_id", "n"):
    loads[load_of[pk]]["told"][n] += 1
watchers = set(
    TopicReader.objects.filter(topic__slug={slug!r}, level="watching")
    .values_list("user_id", flat=True)
)
per_recipient = dict(
    told.values("recipient_id").annotate(n=Count("pk")).values_list("recipient_id", "n")
)
print(json.dumps({{
    "loads": loads,
    "duplicated": sum(1 for n in Counter(posts.values()).values() if n > 1),
    "watchers": len(watchers),
    "per_watcher": Counter(per_recipient.get(pk, 0) for pk in watchers),
    "not_watchers": sum(1 for pk in per_recipient if pk not in watchers),
    "kinds": Counter(told.values_list("kind", flat=True).iterator()),
}}))
"""


@dataclass
class Load:
    name: str
    watched: bool
    worker: bool
    replies: int = 0
    errors: int = 0
    started: float = 0.0  # time.time(), to compare with the task results' times
    seconds: float = 0.0
    told: int = 0  # notifications the worker stored while the load was posted
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    acked: tuple = ()

    @property
    def rate(self) -> float:
        return self.replies / self.seconds if self.seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=200, help="replies per load")
    parser.add_argument("--posters", type=int, default=50, help="concurrent clients")
    parser.add_argument("--replies", type=int, default=1000, help="already there")
    parser.add_argument("--workers", type=int, default=2, help="granian workers")
    parser.add_argument(
        "--all-loads",
        action="store_true",
        help="also post into the watched topic with `serve --no-worker`, "
        "then time `manage.py worker --batch` draining those tasks alone",
    )
    parser.add_argument(
        "--drain-timeout", type=int, default=1200, help="seconds to wait for tasks"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="standpoint-bench-notifications-"))
    # Each client posts back to back: this measures throughput, not flood control.
    env = bench_env(tmp, None, RATE_LIMIT_POST="off")
    try:
        sessions = prepare(args, tmp, env)[: args.posters]
        loads = measure(args, env, tmp, sessions)
        say("Checking every reply, task and notification")
        tally = json.loads(run_code(env, TALLY.format(prefix=PREFIX, slug=SLUG)))
        failed = report(args, loads, tally)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        sys.exit(1)


def measure(args, env: dict, tmp: Path, sessions: list[dict]) -> dict[str, Load]:
    """Post each load in turn, each served afresh; every task run before the next."""
    watched = f"{args.watchers:,} watchers"
    loads = {
        "quiet": Load("no watchers, serve (worker running)", False, True),
        "quiet-alone": Load("no watchers, serve --no-worker", False, False),
        "watched": Load(f"{watched}, serve (worker running)", True, True),
    }
    if args.all_loads:
        loads["watched-alone"] = Load(f"{watched}, serve --no-worker", True, False)
    for key, load in loads.items():
        if key == "watched":
            say(f"Making {args.watchers:,} watchers of the topic")
            made = json.loads(
                run_code(env, MAKE_WATCHERS.format(slug=SLUG, count=args.watchers))
            )
            if made != args.watchers:
                sys.exit(f"{made} watchers made, not {args.watchers}")
        with serve(env, tmp, args.workers, worker=load.worker) as site:
            say(f"Load: {load.name}: {args.posters} clients, {args.posts} replies")
            post_load(site, sessions, key, WARMUP_POSTS, "warmup")
            if load.worker:
                run_code(env, WAIT_ENGAGED)
            timed(load, tmp, site, sessions, key, args.posts)
            if load.worker:
                say("Waiting for the served worker to run every task")
                drain(env, args.drain_timeout)
        if not load.worker:
            say("Running the queued tasks with `manage.py worker --batch`")
            run([sys.executable, "manage.py", "worker", "--batch", "-v", "0"], env)
    return loads


def timed(
    load: Load, tmp: Path, site: str, sessions: list[dict], key: str, posts: int
) -> None:
    before = notifications_stored(tmp)
    load.started = time.time()
    started = time.perf_counter()
    answers = post_load(site, sessions, key, posts, "reply")
    load.seconds = time.perf_counter() - started
    load.told = notifications_stored(tmp) - before
    acked = [(body, seconds) for body, status, seconds in answers if status == 302]
    latencies = sorted(seconds * 1000 for _, seconds in acked)
    load.replies, load.errors = len(acked), len(answers) - len(acked)
    load.p50_ms, load.p95_ms = percentile(latencies, 50), percentile(latencies, 95)
    load.acked = tuple(body for body, _ in acked)


def notifications_stored(tmp: Path) -> int:
    """Notification rows in the benchmark's database, counted at once (a
    `manage.py shell` would take a second to start)."""
    with contextlib.closing(sqlite3.connect(tmp / "bench.sqlite3", timeout=60)) as db:
        return db.execute("SELECT count(*) FROM forum_notification").fetchone()[0]


def post_load(
    site: str, sessions: list[dict], key: str, posts: int, kind: str
) -> list[tuple[str, int, float]]:
    """`posts` replies from every session at once, each client's back to back:
    (body, HTTP status, seconds) each. Every body is unique."""
    opener = urllib.request.build_opener(NoRedirect())
    answers: list[tuple[str, int, float]] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for n in range(number, posts, len(sessions)):
            body = f"{PREFIX} {key} {kind} {n}: defenders need the best tools."
            started = time.perf_counter()
            status = post_reply(opener, site, sessions[number], body)
            seconds = time.perf_counter() - started
            with lock:
                answers.append((body, status, seconds))

    threads = [
        threading.Thread(target=client, args=(n,))
        for n in range(min(posts, len(sessions)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


class serve:
    """The site as `manage.py serve` runs it (granian and, unless `worker` is
    false, its task worker) on a free port, until the block ends."""

    def __init__(self, env: dict, tmp: Path, workers: int, *, worker: bool):
        self.port = free_port()
        cmd = [sys.executable, "manage.py", "serve", "--no-seed", "-v", "0"]
        cmd += ["--port", str(self.port), "--workers", str(workers)]
        cmd += [] if worker else ["--no-worker"]
        self.log = (tmp / "serve.log").open("a")
        self.process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                return base
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.stop()
        sys.exit(f"manage.py serve did not start:\n{Path(self.log.name).read_text()}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        # serve passes SIGTERM on to granian and its worker and waits for both.
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of it
        self.process.wait()
        self.log.close()


def drain(env: dict, timeout: int) -> None:
    left = json.loads(run_code(env, WAIT_DRAINED.format(timeout=timeout)))
    if left:
        sys.exit(f"{left} tasks still queued after {timeout} s")


def run_code(env: dict, code: str) -> str:
    """Run `code` in `manage.py shell`; the last line it printed."""
    out = run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], env)
    return out.strip().splitlines()[-1]


def report(args, loads: dict[str, Load], tally: dict) -> bool:
    """Print the loads, the worker's throughput and the checks; True if missed."""
    print(
        f"\nNotifications benchmark: {args.posters} clients posting {args.posts} "
        f"replies a load into a topic of {args.replies:,} replies, SQLite, "
        f"`manage.py serve` with {args.workers} granian workers, "
        f"{os.cpu_count()} cores\n"
    )
    print("| load | replies | seconds | replies/s | p50 ms | p95 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for load in loads.values():
        print(
            f"| {load.name} | {load.replies} | {load.seconds:.1f} | {load.rate:,.0f} "
            f"| {load.p50_ms:.0f} | {load.p95_ms:.0f} | {load.errors} |"
        )
    quiet, watched = loads["quiet"], loads["watched"]
    ratio = watched.rate / quiet.rate if quiet.rate else 0.0
    failed = ratio < RATIO_TARGET
    print(
        f"\nPosting with {args.watchers:,} watchers / without, the worker running: "
        f"{ratio:.2f} (target ≥ {RATIO_TARGET:.2f}: {'MISSED' if failed else 'ok'})"
    )
    alone = loads.get("watched-alone")
    if alone:
        bare = alone.rate / loads["quiet-alone"].rate
        print(f"The same without the worker (the request alone): {bare:.2f}")

    found = tally["loads"]
    tasks = found["watched"]["tasks"]
    ended = watched.started + watched.seconds
    print(
        "\n| the worker | tasks | notifications | seconds | tasks/s | notifications/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| in `serve`, while load 3 was posted | | {watched.told:,} "
        f"| {watched.seconds:.1f} | | {watched.told / watched.seconds:,.0f} |"
    )
    print(throughput("in `serve`, after load 3 (alone)", tasks, after=ended))
    print(throughput("in `serve`, all of load 3's tasks", tasks))
    if alone:
        print(
            throughput(
                "`worker --batch`, load 4's tasks", found["watched-alone"]["tasks"]
            )
        )
    print(
        throughput(
            "`worker --batch`, load 2's (no watchers)", found["quiet-alone"]["tasks"]
        )
    )

    for line, ok in correctness(args, loads, tally):
        failed |= not ok
        print(f"{line}: {'ok' if ok else 'FAILED'}")
    return failed


def throughput(name: str, tasks: list, after: float | None = None) -> str:
    """A table row for `tasks` (status, started, finished, notifications made;
    times in seconds since the epoch), or those started after `after`: from
    the first one's start to the last one's finish."""
    done = [t for t in tasks if t[2] is not None and (after is None or t[1] > after)]
    if not done:
        return f"| {name} | 0 | 0 | | | |"
    made = sum(t[3] for t in done)
    seconds = max(t[2] for t in done) - min(t[1] for t in done)
    return (
        f"| {name} | {len(done)} | {made:,} | {seconds:.1f} "
        f"| {len(done) / seconds:,.1f} | {made / seconds:,.0f} |"
    )


def correctness(args, loads: dict[str, Load], tally: dict) -> list[tuple[str, bool]]:
    """(what was checked, whether it held), from the database's own counts."""
    found = {key: tally["loads"].get(key, {}) for key in loads}
    stored = {key: found[key].get("stored", 0) for key in loads}
    posted = sum(stored.values())
    acked = sum(len(load.acked) for load in loads.values())
    errors = sum(load.errors for load in loads.values())
    statuses: dict[str, int] = {}
    for key in loads:
        for status, *_ in found[key].get("tasks", []):
            statuses[status] = statuses.get(status, 0) + 1
    # Replies (warm-ups too) posted while the topic was watched.
    watched = [key for key, load in loads.items() if load.watched]
    told_replies = sum(stored[key] for key in watched)
    per_reply = {
        key: {int(n): count for n, count in found[key].get("told", {}).items()}
        for key in loads
    }
    told = sum(
        n * count for counts in per_reply.values() for n, count in counts.items()
    )
    expected = told_replies * args.watchers
    per_watcher = {int(n): count for n, count in tally["per_watcher"].items()}
    unwatched = sum(sum(per_reply[key].values()) for key in loads if key not in watched)
    return [
        (
            f"\nEvery reply answered and stored once: {acked} acknowledged and "
            f"{len(loads) * WARMUP_POSTS} warm-ups, {posted} stored, {errors} errors, "
            f"{tally['duplicated']} duplicated",
            errors == 0
            and tally["duplicated"] == 0
            and posted == acked + len(loads) * WARMUP_POSTS,
        ),
        (
            f"Every reply's task run once, successfully: {statuses}",
            statuses == {"SUCCESSFUL": posted},
        ),
        (
            f"Each of {tally['watchers']:,} watchers told once of each of the "
            f"{told_replies} replies posted while they watched: {told:,} "
            f"notifications of {expected:,}; watchers by how many they got "
            f"{per_watcher}",
            tally["watchers"] == args.watchers
            and told == expected
            and per_watcher == {told_replies: args.watchers}
            and all(per_reply[key] == {args.watchers: stored[key]} for key in watched),
        ),
        (
            f"Nobody told of the {sum(stored[k] for k in loads if k not in watched)} "
            f"replies posted unwatched ({unwatched} were), nor anyone not watching "
            f"({tally['not_watchers']} were); kinds {tally['kinds']}",
            unwatched == 0
            and tally["not_watchers"] == 0
            and set(tally["kinds"]) <= {"watched"},
        ),
    ]


if __name__ == "__main__":
    main()
