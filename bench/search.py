"""Benchmark search and the topic feed (issue 16), in one run.

    .venv/bin/python bench/search.py                       # 10,000 replies, SQLite
    .venv/bin/python bench/search.py --replies 100000
    .venv/bin/python bench/search.py --database-url postgres://…/bench

Fills a topic as bench/run.py does (the index rebuilt after the bulk insert),
then:

1. in-process, each query of a fixed list several times, asked of the
   engine (its count and a page of hits) and through /search/ (the whole
   page, rendered): median and p95 per query and over all (targets: median
   ≤ 20 ms, p95 ≤ 100 ms);
2. served as `manage.py serve` serves it, readers spread over the topic
   feed in every filter view (wrk), against the bare view in the same run
   (target: 0.25 of it).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # noqa: E402
    SLUG,
    bench_env,
    percentile,
    prepare,
    run,
    say,
    site_and_bare,
    spread_script,
    wrk,
)

MEDIAN_MS, P95_MS, FEED_TARGET = 20.0, 100.0, 0.25
REPEATS = 7
QUERIES = [
    {"q": "export"},
    {"q": "defenders"},
    {"q": "the"},
    {"q": "open letter"},
    {"q": "jailbreak"},
    {"q": "national security concern"},
    {"q": "supply chain"},
    {"q": "amazon paper method"},
    {"q": "compliance work small companies"},
    {"q": "zyzzyva"},
    {"q": "export", "sort": "newest"},
    {"q": "ban", "written": "human"},
    {"q": "models", "ties": "party"},
    {"q": "ban", "topic": SLUG, "stance": "supports-ban-endangers-defenders"},
    {"q": '"unbalanced AND (export OR'},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--posters", type=int, default=2)
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure()
    tmp = Path(tempfile.mkdtemp(prefix="standpoint-bench-search-"))
    env = bench_env(tmp, args.database_url, RATE_LIMIT_SEARCH="off")
    try:
        prepare(args, tmp, env)
        say("Searching in-process")
        searches = json.loads(
            run([sys.executable, "bench/search.py", "--measure"], env)
            .strip()
            .splitlines()[-1]
        )
        say("Feed paths for every filter view")
        out = run([sys.executable, "bench/paths.py", "--slug", SLUG], env)
        paths = json.loads(out.strip().splitlines()[-1])["paths"]
        views = sorted({feed_path(path) for path in paths})
        with site_and_bare(env, args.workers) as (site, bare_url):
            say("Load: bare view")
            bare = wrk("bare Django view, 20 KB", bare_url, args)
            say(f"Load: the topic feed spread over {len(views)} filter views")
            feed = wrk(
                "topic feed, spread over filters",
                f"{site}/",
                args,
                ("Accept-Encoding: gzip",),
                script=spread_script(tmp, views),
                warmup=10,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, env, searches, bare, feed)


def feed_path(thread_path: str) -> str:
    """The feed of a thread path's filter view (its page and order dropped)."""
    path, _, query = thread_path.partition("?")
    kept = [
        pair
        for pair in query.split("&")
        if pair and not pair.startswith(("page=", "order="))
    ]
    return f"{path}feed.atom" + (f"?{'&'.join(kept)}" if kept else "")


def measure() -> None:
    import django

    django.setup()
    from django.test import Client

    from forum import search
    from forum.forms import SearchForm

    client = Client()
    rows = []
    for query in QUERIES:
        form = SearchForm(query)
        assert form.is_valid(), form.errors
        terms, scope = search.words(form.cleaned_data["q"]), form.scope()
        newest = form.cleaned_data["sort"] == "newest"
        engine = search.engine()
        engine_times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            engine.count(terms, scope)
            engine.page(terms, scope, newest=newest, offset=0, limit=20)
            engine_times.append((time.perf_counter() - start) * 1000)
        client.get("/search/", query)  # first use of the page
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            response = client.get("/search/", query)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (query, response.status_code)
        page = response.content.decode()
        found = page.split('class="result-count" role="status">')[1].split(" found")[0]
        rows.append(
            {
                "query": query,
                "times": times,
                "engine": engine_times,
                "found": found.strip(),
            }
        )
    print(json.dumps(rows))


def report(args, env, searches, bare, feed) -> None:
    engine = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    print(
        f"\nStandpoint search and feeds: {args.replies:,} replies, {engine}, {os.cpu_count()} cores\n"
    )
    print(
        "| query | found | engine median ms | engine p95 ms | page median ms "
        "| page p95 ms |"
    )
    print("|---|---|---:|---:|---:|---:|")
    pages, engines = [], []
    for row in searches:
        times, engine_times = row["times"], row["engine"]
        pages += times
        engines += engine_times
        shown = " ".join(f"{k}={v}" for k, v in row["query"].items())
        print(
            f"| `{shown}` | {row['found']} | {statistics.median(engine_times):.1f} | "
            f"{percentile(sorted(engine_times), 95):.1f} | "
            f"{statistics.median(times):.1f} | {percentile(sorted(times), 95):.1f} |"
        )
    print()
    for name, values in (
        ("the engine (count and a page)", engines),
        ("the whole page", pages),
    ):
        median, p95 = statistics.median(values), percentile(sorted(values), 95)
        ok = median <= MEDIAN_MS and p95 <= P95_MS
        print(
            f"Over all queries, {name}: median {median:.1f} ms (target ≤ "
            f"{MEDIAN_MS:g}), p95 {p95:.1f} ms (target ≤ {P95_MS:g}): "
            f"{'ok' if ok else 'MISSED'}"
        )
    print()
    ratio = feed.rps / bare.rps
    print("| load | req/s | p50 ms | p99 ms | errors | ratio to bare | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| {bare.name} | {bare.rps:,.0f} | {bare.p50_ms:.1f} | {bare.p99_ms:.1f} | {bare.errors} | 1.00 | |"
    )
    mark = "ok" if ratio >= FEED_TARGET and feed.errors == 0 else "MISSED"
    print(
        f"| {feed.name} | {feed.rps:,.0f} | {feed.p50_ms:.1f} | {feed.p99_ms:.1f} | "
        f"{feed.errors} | {ratio:.2f} | ≥ {FEED_TARGET:.2f} {mark} |"
    )


if __name__ == "__main__":
    main()
