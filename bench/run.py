"""Benchmark Standpoint against a bare Django view served the same way, in one run.

    .venv/bin/python bench/run.py                 # 10,000 replies, SQLite
    .venv/bin/python bench/run.py --replies 100000
    .venv/bin/python bench/run.py --spread-only   # the spread loads alone

Seeds a topic, fills it with realistic replies, serves the site and bench/bare.py
(a 20 KB HttpResponse) the way `manage.py serve` does, drives each page with wrk, posts with
50 concurrent clients, and prints each page's throughput as a ratio of the bare
view's: absolute figures vary between machines, ratios hold. Needs wrk
(Debian package `wrk`). Everything lives in a temporary folder, removed at the end.

One cached URL flatters a site, so the spread loads (issue 14) then read as
readers do: every request a random page of a random filter view, anonymous,
while replies are posted, and signed in; and each page's cold render time.
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
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from forum.management.commands.serve import server_argv  # noqa: E402

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
SPREAD_TARGETS = {  # ratio of the bare view, from issue 14
    "spread, anonymous": 0.25,
    "spread, anonymous, replies posted": 0.20,
    "spread, signed in": 0.20,
}
SPREAD_POSTS_PER_SECOND = 2.0
# What every browser sends: spread readers are browsers (the per-page table,
# from issue 3, keeps measuring uncompressed answers).
BROWSER = ("Accept-Encoding: gzip, deflate, br",)
COLD_MS_TARGET = 10.0  # any page, in-process, every cache empty
COLD_LAST_TO_FIRST = 1.2
# A fresh spread runs slower for its first 20-30 s, while each worker's memory and
# cache grow to their steady size: the readers measured are the ones after that.
SPREAD_WARMUP_SECONDS = 30


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


def start_server(app: str, port: int, workers: int, env: dict, chdir: Path):
    """`app` served as `manage.py serve` serves the site (granian, forum.serving)."""
    cmd = server_argv(
        app, host="127.0.0.1", port=port, workers=workers, access_log=False
    )
    server = subprocess.Popen(cmd, cwd=chdir, env=env, start_new_session=True)
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


def wrk(
    name: str,
    url: str,
    args,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
    warmup: int = 2,
) -> Result:
    """Drive `url` (or the paths `script` picks) for args.duration s after `warmup` s."""
    header_args = [arg for header in headers for arg in ("-H", header)]
    script_args = ["-s", str(script)] if script else []
    base = ["wrk", "-t", "2", "-c", str(args.connections), "--latency"]
    base += [*header_args, *script_args]
    subprocess.run([*base, "-d", f"{warmup}s", url], capture_output=True)
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


def post_reply(opener, base: str, session: dict, body: str) -> int:
    """POST one reply as `session`: the HTTP status, 302 when stored, 0 if unanswered."""
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
        f"{base}/t/{SLUG}/reply/", data=data, headers={"Cookie": cookie(session)}
    )
    try:
        return opener.open(request, timeout=60).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def cookie(session: dict) -> str:
    return f"sessionid={session['sessionid']}; csrftoken={session['csrftoken']}"


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
        for i in range(per_client):
            body = f"Benchmark reply {number}-{i}: defenders need the best tools."
            status = post_reply(opener, base, session, body)
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


def post_steadily(
    base: str, sessions: list[dict], stop: threading.Event
) -> list[tuple[str, float, int]]:
    """Post SPREAD_POSTS_PER_SECOND replies until `stop`: (body, seconds, status) each.

    Each reply leaves at its due time on a thread of its own, so a slow answer
    delays no later reply and the write load stays steady whatever the site does.
    """
    opener = urllib.request.build_opener(NoRedirect())

    def timed(number: int) -> tuple[str, float, int]:
        body = f"Benchmark reply spread-{number}: defenders need the best tools."
        started = time.perf_counter()
        status = post_reply(opener, base, sessions[number % len(sessions)], body)
        return body, time.perf_counter() - started, status

    started, futures = time.perf_counter(), []
    with ThreadPoolExecutor(max_workers=64) as pool:
        while not stop.wait(
            max(
                0.0,
                started + len(futures) / SPREAD_POSTS_PER_SECOND - time.perf_counter(),
            )
        ):
            futures.append(pool.submit(timed, len(futures)))
    return [future.result() for future in futures]


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
    parser.add_argument(
        "--spread-only", action="store_true", help="skip the per-page table"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="standpoint-bench-"))
    # Each client posts back to back: this measures throughput, not flood control.
    env = bench_env(tmp, args.database_url, RATE_LIMIT_POST="off")
    failed = False
    try:
        sessions = prepare(args, tmp, env)
        with site_and_bare(env, args.workers) as (site, bare_url):
            say("Load: bare view")
            bare = wrk("bare Django view, 20 KB", bare_url, args)
            if not args.spread_only:
                failed |= page_loads(args, env, site, sessions, bare)
            failed |= spread_loads(args, env, tmp, site, sessions, bare)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        sys.exit(1)


def bench_env(tmp: Path, database_url: str | None, **settings: str) -> dict:
    """The environment every benchmark serves and fills the site with."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "forum.settings",
        "DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "POSTS_PER_PAGE": str(PER_PAGE),
        "PYTHONPATH": str(ROOT),
        **settings,
    }


@contextmanager
def site_and_bare(env: dict, workers: int) -> Iterator[tuple[str, str]]:
    """The site and the bare view, each served as `manage.py serve` serves it;
    yields their base URLs and stops both."""
    servers = []
    try:
        site_port, bare_port = free_port(), free_port()
        servers.append(
            start_server("forum.asgi:application", site_port, workers, env, ROOT)
        )
        servers.append(
            start_server("bare:asgi", bare_port, workers, env, ROOT / "bench")
        )
        yield f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{bare_port}/"
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)


def prepare(args, tmp: Path, env: dict) -> list[dict]:
    """Seed the topic, fill it with args.replies replies; the posters' sessions."""
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
    # The filler writes around the services: make each reply's piece, as the
    # site would have when each was first shown (a new release does the same).
    run([sys.executable, "manage.py", "pieces"], env)
    return json.loads(sessions_file.read_text())


def count_queries(env: dict, pages: list[tuple[str, str, bool]]) -> dict:
    """Each page's queries and uncached render time, in-process (bench/queries.py)."""
    out = run([sys.executable, "bench/queries.py", json.dumps(pages)], env)
    return json.loads(out.strip().splitlines()[-1])


def page_loads(args, env: dict, site: str, sessions: list[dict], bare: Result) -> bool:
    """The per-page table (issue 3): one URL at a time, then posting; True if missed."""
    last = math.ceil(args.replies / PER_PAGE)
    pages = [  # (name, path, signed in)
        ("topic list, anonymous", "/", False),
        ("thread first page, anonymous", f"/t/{SLUG}/", False),
        ("thread last page, anonymous", f"/t/{SLUG}/?page={last}", False),
        ("thread first page, signed in", f"/t/{SLUG}/", True),
        ("thread last page, signed in", f"/t/{SLUG}/?page={last}", True),
    ]
    say("Counting queries per page")
    queries = count_queries(env, pages)
    results = [bare]
    for name, path, signed_in in pages:
        say(f"Load: {name}")
        headers = (f"Cookie: {cookie(sessions[0])}",) if signed_in else ()
        result = wrk(name, site + path, args, headers)
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
    return report(results, args, seconds, errors, acked, lost, duplicated)


def spread_loads(
    args, env: dict, tmp: Path, site: str, sessions: list[dict], bare: Result
) -> bool:
    """Readers over every page and filter, alone, under writes, signed in; True if missed."""
    say("Spread: picking thread paths that exist")
    out = run([sys.executable, "bench/paths.py", "--slug", SLUG], env)
    spread = json.loads(out.strip().splitlines()[-1])
    script = spread_script(tmp, spread["paths"])
    say("Spread: cold renders of the first, middle and last page")
    cold = cold_renders(env, spread["pages"])
    say(f"Load: spread, anonymous, after a {SPREAD_WARMUP_SECONDS} s warm-up")
    first = wrk(
        "spread, anonymous",
        f"{site}/",
        args,
        BROWSER,
        script=script,
        warmup=SPREAD_WARMUP_SECONDS,
    )
    results = [bare, first]
    say(f"Load: spread, anonymous, {SPREAD_POSTS_PER_SECOND:g} replies/s posted")
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        posting = pool.submit(post_steadily, site, sessions, stop)
        try:
            name = "spread, anonymous, replies posted"
            results.append(wrk(name, f"{site}/", args, BROWSER, script=script))
        finally:
            stop.set()
        posts = posting.result()
    # The posting above made a new topic version: warm up as the first did.
    say(f"Load: spread, signed in, after a {SPREAD_WARMUP_SECONDS} s warm-up")
    headers = (f"Cookie: {cookie(sessions[0])}", *BROWSER)
    name = "spread, signed in"
    results.append(
        wrk(name, f"{site}/", args, headers, script, warmup=SPREAD_WARMUP_SECONDS)
    )
    stored = Counter(stored_bodies(env))
    return report_spread(args, results, spread, posts, stored, cold)


def cold_renders(env: dict, last: int) -> dict:
    """The first, middle and last thread page, each rendered with every cache empty."""
    numbers = {"first": 1, "middle": (last + 1) // 2, "last": last}
    pages = [(name, f"/t/{SLUG}/?page={n}", False) for name, n in numbers.items()]
    return {
        name: {**found, "page": numbers[name]}
        for name, found in count_queries(env, pages).items()
    }


def spread_script(tmp: Path, paths: list[str]) -> Path:
    """A wrk script asking each request for a random one of `paths`.

    Seeded by the clock and the thread: a load that replayed the previous one's
    requests, or its warm-up's, would find them cached.
    """
    assert all(path.isascii() and '"' not in path for path in paths)
    table = ",\n".join(f'  "{path}"' for path in paths)
    script = tmp / "spread.lua"
    script.write_text(
        f"local paths = {{\n{table}\n}}\n"
        "local threads = 0\n"
        "function setup(thread)\n"
        "  threads = threads + 1\n"
        '  thread:set("seed", threads)\n'
        "end\n"
        "function init(args)\n"
        "  math.randomseed(os.time() * 64 + seed)\n"
        "end\n"
        "function request()\n"
        "  return wrk.format(nil, paths[math.random(#paths)])\n"
        "end\n"
    )
    return script


def say(message: str) -> None:
    print(f"-- {message}", file=sys.stderr, flush=True)


def header(args) -> str:
    return (
        f"\nStandpoint benchmark: {args.replies:,} replies, granian {args.workers} "
        f"workers x {os.environ.get('SERVE_THREADS', '4')} threads, "
        f"wrk {args.connections} connections x {args.duration} s, "
        f"{os.cpu_count()} cores\n"
    )


def report(results, args, seconds, errors, acked, lost, duplicated) -> bool:
    """Print the per-page table; True if a target is missed."""
    bare = results[0].rps
    print(header(args))
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
    return failed


def report_spread(args, results, spread, posts, stored: Counter, cold) -> bool:
    """Print the spread table, the posting and cold render lines; True if missed."""
    if args.spread_only:
        print(header(args))
    posted_ok, posted = posting_summary(posts, stored)
    cold_ok, cold_line = cold_summary(cold)
    print(
        f"\nSpread loads: each request one of {len(spread['paths']):,} random paths "
        f"over {spread['views']} filter views and their {spread['distinct']:,} pages "
        f"(the whole thread: {spread['pages']:,} pages)\n"
    )
    print("| load | req/s | p50 ms | p99 ms | errors | ratio to bare | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    bare, failed = results[0].rps, not (posted_ok and cold_ok)
    for r in results:
        ratio, target = r.rps / bare, SPREAD_TARGETS.get(r.name)
        ok = target is None or (ratio >= target and r.errors == 0)
        mark = "" if target is None else f"≥ {target:.2f}"
        if r.name == "spread, anonymous, replies posted":
            ok, mark = ok and posted_ok, f"{mark}, each reply stored once"
        failed |= not ok
        mark += "" if target is None else f" {'ok' if ok else 'MISSED'}"
        print(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.errors} | {ratio:.2f} | {mark} |"
        )
    print(f"\n{posted}\n{cold_line}")
    return failed


def posting_summary(posts, stored: Counter) -> tuple[bool, str]:
    """Was every acknowledged reply stored exactly once, and how fast was it answered?"""
    acked = [(body, seconds) for body, seconds, status in posts if status == 302]
    errors = len(posts) - len(acked)
    lost = sum(stored[body] == 0 for body, _ in acked)
    duplicated = sum(stored[body] > 1 for body, _ in acked)
    latencies = sorted(seconds * 1000 for _, seconds in acked)
    ok = bool(acked) and errors == lost == duplicated == 0
    return ok, (
        f"Replies posted during the spread at {SPREAD_POSTS_PER_SECOND:g}/s: "
        f"{len(acked)} acknowledged of {len(posts)}; post latency "
        f"p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms; "
        f"errors {errors}, lost {lost}, duplicated {duplicated} "
        f"(every acknowledged reply stored once: {'ok' if ok else 'MISSED'})"
    )


def cold_summary(cold: dict) -> tuple[bool, str]:
    """Is every page cheap to build from nothing, and the last no dearer than the first?"""
    first, last = cold["first"]["cold_ms"], cold["last"]["cold_ms"]
    each_ok = all(c["cold_ms"] <= COLD_MS_TARGET for c in cold.values())
    ratio_ok = last <= COLD_LAST_TO_FIRST * first
    pages = "; ".join(
        f"{name} (page {c['page']:,}) {c['cold_ms']:.1f} ms, {c['queries']} queries"
        for name, c in cold.items()
    )
    return each_ok and ratio_ok, (
        f"Cold render, in-process, every cache emptied (median of 7): {pages}. "
        f"Last / first {last / first:.2f} (targets: each ≤ {COLD_MS_TARGET:g} ms "
        f"{'ok' if each_ok else 'MISSED'}; last ≤ {COLD_LAST_TO_FIRST:g} × first "
        f"{'ok' if ratio_ok else 'MISSED'})"
    )


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted `values`; nan when there are none."""
    if not values:
        return math.nan
    return values[max(0, math.ceil(pct / 100 * len(values)) - 1)]


if __name__ == "__main__":
    main()
