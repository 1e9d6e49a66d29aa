"""Benchmark the read API and the open-data exports (issue 15), in one run.

    .venv/bin/python bench/api.py                    # 10,000 replies, SQLite
    .venv/bin/python bench/api.py --replies 100000

Fills a topic as bench/run.py does, serves the site and the bare view the way
`manage.py serve` does, then:

1. readers spread over the API's pages, each request a random cursor of a
   random filter, measured with wrk against the bare view in the same run
   (target: 0.25 of it), with the per-address limit on (set very high, so
   its counting is paid but never refuses);
2. each export downloaded over HTTP twice: the first streams it while it is
   written, the second is the file (target: the whole 10,000-reply export in
   5 s);
3. each export built in a process of its own, its peak resident memory
   reported (bounded: it should not grow with the thread).
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402
    SLUG,
    SPREAD_WARMUP_SECONDS,
    bench_env,
    prepare,
    run,
    say,
    site_and_bare,
    spread_script,
    wrk,
)

API_TARGET = 0.25
EXPORT_SECONDS_TARGET = 5.0  # the whole 10,000-reply export
FILTERS = ("", "written=human", "order=newest", "ties=none", "written=ai_generated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--posters", type=int, default=2)
    parser.add_argument("--build", help=argparse.SUPPRESS)  # the memory probe
    args = parser.parse_args()
    if args.build:
        return build(args.build)
    tmp = Path(tempfile.mkdtemp(prefix="standpoint-bench-api-"))
    env = bench_env(
        tmp,
        None,
        EXPORT_ROOT=str(tmp / "exports"),
        # Counted on every request, as in production, but never refusing.
        RATE_LIMIT_API="100000000/m",
    )
    try:
        prepare(args, tmp, env)
        with site_and_bare(env, args.workers) as (site, bare_url):
            say("Load: bare view")
            bare = wrk("bare Django view, 20 KB", bare_url, args)
            say("Walking the API for its cursors")
            paths = cursor_paths(site)
            script = spread_script(tmp, paths)
            say(f"Load: API pages spread over {len(paths):,} cursors")
            spread = wrk(
                "API pages, spread over cursors",
                f"{site}/",
                args,
                script=script,
                warmup=SPREAD_WARMUP_SECONDS,
            )
            say("Exports over HTTP")
            downloads = {name: download(site, name) for name in EXPORTS}
        say("Exports in a process of their own, for peak memory")
        memory = json.loads(
            run([sys.executable, "bench/api.py", "--build", SLUG], env)
            .strip()
            .splitlines()[-1]
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, bare, spread, downloads, memory)


EXPORTS = (
    "posts.jsonl",
    "posts.csv",
    "comments.csv",
    "participant-votes.csv",
    "datapackage.json",
)


def cursor_paths(site: str) -> list[str]:
    """Every page of the thread in each filter of FILTERS, as cursors: what a
    script that reads the debate asks for."""
    paths = []
    for query in FILTERS:
        path = f"/api/v1/topics/{SLUG}/posts?limit=50" + (f"&{query}" if query else "")
        while path:
            paths.append(path)
            with urllib.request.urlopen(site + path, timeout=60) as response:
                path = json.load(response)["next"]
    return paths


def download(site: str, name: str) -> dict:
    url = f"{site}/data/{SLUG}/{name}"
    times = []
    for _ in range(2):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=600) as response:
            size = sum(
                len(chunk) for chunk in iter(lambda: response.read(1 << 16), b"")
            )
        times.append(time.perf_counter() - start)
    return {"first_s": times[0], "again_s": times[1], "bytes": size}


def build(slug: str) -> None:
    """Write every export of `slug` here, in-process; print peak RSS and time."""
    import django

    django.setup()
    from forum import exports
    from forum.models import Topic

    topic = Topic.objects.get(slug=slug)
    topic.updated = topic.updated.replace(microsecond=1)  # a version of its own
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    snapshot = exports.Snapshot(topic)
    for name in exports.FILES:
        exports.written(snapshot, name)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_mb": before / 1024,
                "peak_rss_mb": peak / 1024,
            }
        )
    )


def report(args, bare, spread, downloads, memory) -> None:
    ratio = spread.rps / bare.rps
    print(
        f"\nStandpoint API and exports: {args.replies:,} replies, granian "
        f"{args.workers} workers, wrk {args.connections} connections x "
        f"{args.duration} s, {os.cpu_count()} cores\n"
    )
    print("| load | req/s | p50 ms | p99 ms | errors | ratio to bare | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| {bare.name} | {bare.rps:,.0f} | {bare.p50_ms:.1f} | {bare.p99_ms:.1f} | {bare.errors} | 1.00 | |"
    )
    ok = ratio >= API_TARGET and spread.errors == 0
    print(
        f"| {spread.name} | {spread.rps:,.0f} | {spread.p50_ms:.1f} | "
        f"{spread.p99_ms:.1f} | {spread.errors} | {ratio:.2f} | "
        f"≥ {API_TARGET:.2f} {'ok' if ok else 'MISSED'} |"
    )
    print("\n| export | bytes | first download s | again s |")
    print("|---|---:|---:|---:|")
    total = 0.0
    for name, found in downloads.items():
        total += found["first_s"]
        print(
            f"| {name} | {found['bytes']:,} | {found['first_s']:.2f} | {found['again_s']:.3f} |"
        )
    target = EXPORT_SECONDS_TARGET * args.replies / 10_000
    mark = "ok" if total <= target or args.replies > 10_000 else "MISSED"
    print(
        f"\nEvery file, first download: {total:.2f} s (target at 10,000 replies: ≤ {EXPORT_SECONDS_TARGET:g} s: {mark})"
    )
    print(
        f"Built in-process: {memory['seconds']:.2f} s, peak RSS "
        f"{memory['peak_rss_mb']:.0f} MB (after Django's start: "
        f"{memory['rss_before_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
