"""Benchmark Standpoint against a bare Django view served the same way, in one run.

    .venv/bin/python bench/run.py                 # 10,000 replies, SQLite
    .venv/bin/python bench/run.py --replies 100000

Seeds a topic, fills it with realistic replies, starts gunicorn for the site and
for bench/bare.py (a 20 KB HttpResponse), drives each page with wrk, posts with
50 concurrent clients, and prints each page's throughput as a ratio of the bare
view's: absolute figures vary between machines, ratios hold. Needs wrk
(Debian package `wrk`). Everything lives in a temporary folder, removed at the end.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "us-export-controls-frontier-ai"
PER_PAGE = 20
TARGETS = {  # ratio of the bare view, from issue 3
    "thread first page, anonymous": 0.50,
    "thread last page, anonymous": 0.50,
    "thread first page, signed in": 0.15,
    "thread last page, signed in": 0.15,
    "topic list, anonymous": 0.30,
}
POSTING_TARGET = 100.0  # replies/s with 50 clients on SQLite


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    queries: int | None = None
    cold_ms: float | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(cmd: list[str], env: dict, **kwargs) -> str:
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_gunicorn(app: str, port: int, workers: int, env: dict, chdir: Path):
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--chdir",
        str(chdir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return server
        except urllib.error.HTTPError:
            return server  # it answers, even if the bare app has no /healthz
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGTERM)
    sys.exit(f"{app} did not start")


def parse_duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(name: str, url: str, args, headers: tuple[str, ...] = ()) -> Result:
    header_args = [arg for header in headers for arg in ("-H", header)]
    base = ["wrk", "-t", "2", "-c", str(args.connections), "--latency", *header_args]
    subprocess.run([*base, "-d", "2s", url], capture_output=True)  # warm up
    out = subprocess.run(
        [*base, "-d", f"{args.duration}s", url], capture_output=True, text=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = parse_duration_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = parse_duration_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = (int(bad.group(1)) if bad else 0) + (
        sum(int(n) for n in sock.groups()) if sock else 0
    )
    return Result(name, rps, p50, p99, errors)


def post_load(
    base: str, sessions: list[dict], per_client: int
) -> tuple[float, int, set]:
    """Each session posts `per_client` replies; returns (seconds, errors, bodies acked)."""
    acked: set[str] = set()
    errors = 0
    lock = threading.Lock()
    opener = urllib.request.build_opener(NoRedirect())

    def client(number: int, session: dict) -> None:
        nonlocal errors
        cookie = f"sessionid={session['sessionid']}; csrftoken={session['csrftoken']}"
        for i in range(per_client):
            body = f"Benchmark reply {number}-{i}: defenders need the best tools."
            data = urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": session["csrftoken"],
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
                f"{base}/t/{SLUG}/reply/", data=data, headers={"Cookie": cookie}
            )
            try:
                status = opener.open(request, timeout=60).status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            with lock:
                if status == 302:
                    acked.add(body)
                else:
                    errors += 1

    threads = [
        threading.Thread(target=client, args=(n, s)) for n, s in enumerate(sessions)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, errors, acked


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def stored_bodies(env: dict) -> list[str]:
    code = (
        "import json; from forum.models import Post; "
        "print(json.dumps(list(Post.objects.filter(body__startswith='Benchmark reply')"
        ".values_list('body', flat=True))))"
    )
    out = run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], env)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument("--posters", type=int, default=50)
    parser.add_argument("--posts-per-client", type=int, default=10)
    parser.add_argument(
        "--database-url", help="default: a SQLite file in the temporary folder"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="standpoint-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "forum.settings",
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "POSTS_PER_PAGE": str(PER_PAGE),
        "PYTHONPATH": str(ROOT),
        # Each client posts back to back: this measures throughput, not flood control.
        "RATE_LIMIT_POST": "off",
    }
    servers = []
    try:
        say(f"Preparing {args.replies:,} replies in {tmp}")
        run([sys.executable, "manage.py", "migrate", "-v", "0"], env)
        run([sys.executable, "manage.py", "seed", "-v", "0"], env)
        run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env)
        sessions_file = tmp / "sessions.json"
        run(
            [
                sys.executable,
                "bench/populate.py",
                "--slug",
                SLUG,
                "--replies",
                str(args.replies),
                "--sessions",
                str(args.posters),
                "--out",
                str(sessions_file),
            ],
            env,
        )
        sessions = json.loads(sessions_file.read_text())
        last = math.ceil(args.replies / PER_PAGE)
        pages = [  # (name, path, signed in)
            ("topic list, anonymous", "/", False),
            ("thread first page, anonymous", f"/t/{SLUG}/", False),
            ("thread last page, anonymous", f"/t/{SLUG}/?page={last}", False),
            ("thread first page, signed in", f"/t/{SLUG}/", True),
            ("thread last page, signed in", f"/t/{SLUG}/?page={last}", True),
        ]
        say("Counting queries per page")
        out = run([sys.executable, "bench/queries.py", json.dumps(pages)], env)
        queries = json.loads(out.strip().splitlines()[-1])

        site_port, bare_port = free_port(), free_port()
        servers.append(
            start_gunicorn("forum.wsgi:application", site_port, args.workers, env, ROOT)
        )
        servers.append(
            start_gunicorn(
                "bare:application", bare_port, args.workers, env, ROOT / "bench"
            )
        )
        site = f"http://127.0.0.1:{site_port}"
        reader = sessions[0]
        cookie = (
            f"Cookie: sessionid={reader['sessionid']}; csrftoken={reader['csrftoken']}"
        )

        say("Load: bare view")
        results = [
            wrk("bare Django view, 20 KB", f"http://127.0.0.1:{bare_port}/", args)
        ]
        for name, path, signed_in in pages:
            say(f"Load: {name}")
            result = wrk(name, site + path, args, (cookie,) if signed_in else ())
            result.queries = queries[name]["queries"]
            result.cold_ms = queries[name]["cold_ms"]
            results.append(result)

        say(f"Posting: {args.posters} clients x {args.posts_per_client} replies")
        seconds, errors, acked = post_load(
            site, sessions[: args.posters], args.posts_per_client
        )
        stored = stored_bodies(env)
        lost = len(acked - set(stored))
        duplicated = len(stored) - len(set(stored))
        report(results, args, seconds, errors, acked, lost, duplicated)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def say(message: str) -> None:
    print(f"-- {message}", file=sys.stderr, flush=True)


def report(results, args, seconds, errors, acked, lost, duplicated) -> None:
    bare = results[0].rps
    print(
        f"\nStandpoint benchmark: {args.replies:,} replies, gunicorn {args.workers} "
        f"sync workers, wrk {args.connections} connections x {args.duration} s, "
        f"{os.cpu_count()} cores\n"
    )
    print(
        "| page | req/s | p50 ms | p99 ms | errors | queries | uncached ms "
        "| ratio to bare | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    failed = False
    for r in results:
        ratio = r.rps / bare
        target = TARGETS.get(r.name)
        ok = target is None or (ratio >= target and r.errors == 0)
        failed |= not ok
        mark = "" if target is None else f"≥ {target:.2f} {'ok' if ok else 'MISSED'}"
        queries = "" if r.queries is None else str(r.queries)
        cold = "" if r.cold_ms is None else f"{r.cold_ms:.1f}"
        print(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.errors} | {queries} | {cold} | {ratio:.2f} | {mark} |"
        )
    rate = len(acked) / seconds
    ok = rate >= POSTING_TARGET and errors == 0 and lost == 0 and duplicated == 0
    failed |= not ok
    print(
        f"\nPosting, {args.posters} clients: {len(acked)} replies in {seconds:.1f} s "
        f"= {rate:,.0f} replies/s; errors {errors}, lost {lost}, duplicated "
        f"{duplicated} (target ≥ {POSTING_TARGET:.0f}/s, 0 errors, 0 lost: "
        f"{'ok' if ok else 'MISSED'})"
    )
    by_name = {r.name: r for r in results}
    for who in ("anonymous", "signed in"):
        first = by_name[f"thread first page, {who}"].cold_ms
        last = by_name[f"thread last page, {who}"].cold_ms
        ok = last <= 1.5 * first
        failed |= not ok
        print(
            f"Uncached last page / first page, {who}: {last / first:.2f} "
            f"(target ≤ 1.5: {'ok' if ok else 'MISSED'})"
        )
    print(
        "Queries and uncached ms: a render with empty caches (median of 7, "
        "in-process); a cached anonymous page issues 1 query, a signed-in one 4."
    )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
