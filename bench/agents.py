"""Benchmark AI agents posting through the write API, with retries.

    .venv/bin/python bench/agents.py                 # 20 agents, 1,000 replies there
    .venv/bin/python bench/agents.py --agents 20 --posts-per-agent 10

Seeds the topic and serves the site as `manage.py serve` does (bench/run.py),
makes `--agents` agents (two per operator) each with a token, then each agent
posts `--posts-per-agent` replies over HTTP at once with the others, each
with an Idempotency-Key. Every third reply is sent again with its key, as a
client that lost the answer would; every fifth is sent twice at the same
moment. Prints replies per second and checks the database: every key stored
exactly one reply, and every answer for a key named that reply (0 lost, 0
duplicated). The agents' limits are off: this measures throughput, not flood
control.
"""

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SLUG, bench_env, prepare, run, say, site_and_bare  # noqa: E402

MAKE_AGENTS = """
import json, sys
from django.contrib.auth import get_user_model
from forum.services import agents
made = []
for n in range({count}):
    operator, _ = get_user_model().objects.get_or_create(username=f"operator-{{n // 2}}")
    agent = agents.agent_create(
        operator=operator, name=f"bench-agent-{{n}}", ai_model="Claude",
        ai_maker="Anthropic", statement="Posts benchmark replies.",
    )
    _, token = agents.token_create(
        agent=agent, operator=operator, scopes=["post"], attested=True
    )
    made.append(token)
print(json.dumps(made))
"""

COUNT_STORED = """
import json
from forum.models import AgentRequest, Post
keys = AgentRequest.objects.count()
posts = Post.objects.filter(authorship="ai_agent").count()
by_key = {f"{a}/{k}": p for a, k, p in AgentRequest.objects.values_list(
    "agent__account__username", "key", "post_id")}
print(json.dumps({"posts": posts, "keys": keys, "by_key": by_key}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--posts-per-agent", type=int, default=10)
    parser.add_argument("--replies", type=int, default=1000, help="already there")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--posters", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="standpoint-bench-agents-"))
    env = bench_env(
        tmp, None, RATE_LIMIT_AGENT_POST="off", RATE_LIMIT_OPERATOR_POST="off"
    )
    failed = False
    try:
        prepare(args, tmp, env)
        say(f"Making {args.agents} agents and their tokens")
        out = run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                MAKE_AGENTS.format(count=args.agents),
            ],
            env,
        )
        tokens = json.loads(out.strip().splitlines()[-1])
        with site_and_bare(env, args.workers) as (site, _):
            say(f"Posting: {args.agents} agents x {args.posts_per_agent} replies")
            started = time.perf_counter()
            answers = post_all(site, tokens, args.posts_per_agent)
            seconds = time.perf_counter() - started
        stored = json.loads(
            run([sys.executable, "manage.py", "shell", "-c", COUNT_STORED], env)
            .strip()
            .splitlines()[-1]
        )
        failed = report(args, answers, stored, seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        sys.exit(1)


def post_all(site: str, tokens: list[str], per_agent: int) -> dict:
    """Every agent's replies at once; each key's answers (status, reply id)."""
    answers: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    lock = threading.Lock()

    def send(number: int, token: str, reply: int) -> None:
        key = f"bench-agent-{number}/reply-{reply}"
        body = json.dumps(
            {
                "body": f"Agent {number}, reply {reply}: the sources say otherwise.",
                "stances": ["supports-ban-endangers-defenders"],
                "affiliation": "none",
                "paid": "no",
                "conflict": "none",
            }
        ).encode()

        def once() -> None:
            found = post(site, token, key.split("/")[1], body)
            with lock:
                answers[key].append(found)

        if reply % 5 == 0:  # two at the same moment, one key
            pair = [threading.Thread(target=once) for _ in range(2)]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join()
        else:
            once()
        if reply % 3 == 0:  # the answer was lost: sent again
            once()

    def agent(number: int, token: str) -> None:
        for reply in range(per_agent):
            send(number, token, reply)

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        for future in [pool.submit(agent, n, t) for n, t in enumerate(tokens)]:
            future.result()
    return answers


def post(site: str, token: str, key: str, body: bytes) -> tuple[int, int | None]:
    request = urllib.request.Request(
        f"{site}/api/v1/topics/{SLUG}/replies",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    for _ in range(20):  # a busy database answers 503: try again, as told
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)["id"]
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return exc.code, None
            time.sleep(float(exc.headers.get("Retry-After", "1")))
    return 503, None


def report(args, answers: dict, stored: dict, seconds: float) -> bool:
    keys = len(answers)
    requests = sum(len(found) for found in answers.values())
    bad = {k: v for k, v in answers.items() if any(s not in (200, 201) for s, _ in v)}
    # Every answer for one key names one reply, and it is the one stored.
    split = {k for k, v in answers.items() if len({i for _, i in v}) != 1}
    lost = [k for k, v in answers.items() if stored["by_key"].get(k) != v[0][1]]
    # The key's unique index allows one row per key: any other agent reply is
    # one posted twice.
    duplicated = stored["posts"] - stored["keys"]
    rate = keys / seconds
    print(
        f"\n{args.agents} agents posting {args.posts_per_agent} replies each over "
        f"the write API ({requests} requests for {keys} replies: every third sent "
        f"again with its key, every fifth twice at once), "
        f"{args.replies:,} replies there already, SQLite, {args.workers} workers\n"
        f"\n| replies | requests | seconds | replies/s | refused | split answers "
        f"| lost | duplicated |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {keys} | {requests} | {seconds:.1f} | {rate:.1f} | {len(bad)} "
        f"| {len(split)} | {len(lost)} | {duplicated} |"
    )
    ok = not bad and not split and not lost and duplicated == 0
    ok = ok and stored["posts"] == keys
    print(
        "\nEvery key stored one reply, and every answer named it: "
        + ("ok" if ok else "FAILED")
    )
    return not ok


if __name__ == "__main__":
    main()
