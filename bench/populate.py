"""Fill the seeded topic with realistic replies, and make sessions for the load.

Run by bench/run.py with the benchmark's DATABASE_URL. Bulk inserts keep 100,000
replies to a minute or so; bodies are still rendered by the site's own
sanitiser, and the stored counts are recomputed by the service at the end.
"""

import argparse
import json
import random
import sys
from datetime import timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from taggit.models import Tag  # noqa: E402

from forum import search  # noqa: E402
from forum.markup import render_markdown  # noqa: E402
from forum.models import Post, PostKeyword, PostStance, Stance, Topic  # noqa: E402
from forum.services import tallies_recount  # noqa: E402

OPENINGS = [
    "Defenders lose more than attackers here.",
    "I work on a red team and this matches what we see.",
    "The letter is right about asymmetry, but the details matter.",
    "National security is a real concern, even without public specifics.",
    "Publishing a jailbreak should not be what gets a model banned.",
    "Export rules have never stopped a determined adversary.",
    "Transparent rule-making would have avoided most of this anger.",
    "I am not convinced a weaker model does the job much worse.",
]
MIDDLES = [
    "Patch cycles depend on models that can **read a whole codebase** and explain a fix.",
    "The Amazon paper described a method; it did not show mass misuse.",
    "If the government has evidence, a classified briefing to Congress is the minimum.",
    "Labs will simply *document less*, and we will all know less about the risks.",
    "See [the open letter](https://example.org/letter) and the list of signatories.",
    "> pulling the best capabilities away from defenders without a good reason\n\n"
    "That sentence carries the whole argument.",
    "Open-weight models are a few months behind, so the ban buys little time.",
    "Small companies cannot afford the compliance work the ban implies.",
]
CLOSINGS = [
    "Happy to be shown wrong with data.",
    "Either way, the process should be public.",
    "- publish the rationale\n- time-limit the ban\n- review it with researchers",
    "We need better evidence before rules this broad.",
    "",
]
KEYWORDS = [
    "exploits",
    "open source",
    "policy",
    "red team",
    "jailbreaks",
    "supply chain",
]
MODELS = [
    ("Claude", "Anthropic"),
    ("GPT-4o", "OpenAI"),
    ("Gemini", "Google"),
    ("Llama", "Meta"),
]
AFFILIATIONS = ["none"] * 7 + [
    "University lab",
    "Security vendor",
    "Independent consultant",
]
PASSWORD = "benchmark-password-1"


def body(rng: random.Random) -> str:
    parts = [rng.choice(OPENINGS), rng.choice(MIDDLES), rng.choice(CLOSINGS)]
    if rng.random() < 0.4:
        parts.insert(2, rng.choice(MIDDLES))
    return "\n\n".join(part for part in parts if part)


def disclosure(rng: random.Random, parties: list) -> tuple[dict, list]:
    kind = rng.choices(
        ["human", "ai_polished", "ai_assisted", "ai_generated"], [60, 15, 15, 10]
    )[0]
    model, maker = rng.choice(MODELS) if kind != "human" else ("", "")
    paid = rng.choices(["no", "yes", "expected"], [90, 7, 3])[0]
    conflicted = rng.random() < 0.15
    chosen = rng.sample(parties, rng.randint(1, 2)) if conflicted else []
    fields = {
        "authorship": kind,
        "ai_model": model,
        "ai_maker": maker,
        "affiliation": rng.choice(AFFILIATIONS),
        "paid": paid,
        "paid_by": "" if paid == "no" else "A policy institute",
        "conflict": "declared" if conflicted else "none",
        "conflict_details": "I have advised them on this." if conflicted else "",
    }
    return fields, chosen


def make_users(count: int) -> list:
    User = get_user_model()
    existing = list(User.objects.filter(username__startswith="bench-"))
    if len(existing) >= count:
        return existing[:count]
    template = User(username="template")
    template.set_password(PASSWORD)
    User.objects.bulk_create(
        [
            User(username=f"bench-{i}", password=template.password)
            for i in range(len(existing), count)
        ]
    )
    return list(User.objects.filter(username__startswith="bench-"))[:count]


@transaction.atomic
def add_replies(topic: Topic, count: int, users: list, seed: int) -> None:
    rng = random.Random(seed)
    stances = list(Stance.objects.filter(position__topic=topic))
    by_position: dict[int, list] = {}
    for stance in stances:
        by_position.setdefault(stance.position_id, []).append(stance)
    parties = list(topic.parties.all())
    tags = [Tag.objects.get_or_create(name=name)[0] for name in KEYWORDS]
    start = timezone.now() - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    done: list[int] = list(topic.posts.values_list("pk", flat=True))
    first = len(done) + 1  # posts are numbered in their thread from 1
    batch = 2000
    for offset in range(0, count, batch):
        rows, extras = [], []
        for i in range(offset, min(offset + batch, count)):
            fields, conflict_parties = disclosure(rng, parties)
            text = body(rng)
            created = start + step * i
            rows.append(
                Post(
                    topic=topic,
                    author=rng.choice(users),
                    parent_id=rng.choice(done) if done and rng.random() < 0.3 else None,
                    body=text,
                    body_html=render_markdown(text),
                    attested_at=created,
                    created=created,
                    number=first + i,
                    **fields,
                )
            )
            positions = rng.sample(sorted(by_position), rng.choice([1, 1, 2]))
            chosen = [rng.choice(by_position[p]) for p in positions]
            keywords = rng.sample(tags, rng.choice([0, 0, 1, 2]))
            extras.append((chosen, keywords, conflict_parties))
        Post.objects.bulk_create(rows)  # save() is skipped: body_html is set above
        links, keyword_links, conflicts = [], [], []
        Through = Post.conflict_parties.through
        for post, (chosen, keywords, conflict_parties) in zip(
            rows, extras, strict=True
        ):
            links += [PostStance(content_object=post, tag=s) for s in chosen]
            keyword_links += [PostKeyword(content_object=post, tag=t) for t in keywords]
            conflicts += [Through(post=post, party=p) for p in conflict_parties]
            done.append(post.pk)
        PostStance.objects.bulk_create(links)
        PostKeyword.objects.bulk_create(keyword_links)
        Through.objects.bulk_create(conflicts)
        print(f"  {min(offset + batch, count)} / {count} replies", file=sys.stderr)
    tallies_recount(topic_ids=[topic.pk], fix=True)
    # Bulk inserts skip the services, which keep the search index: fill it.
    search.rebuild()


def session_for(user) -> dict:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "forum.auth.Backend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    # The CSRF cookie holds the secret; Django also accepts it unmasked in a form.
    return {"sessionid": session.session_key, "csrftoken": get_random_string(32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slug", required=True)
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    topic = Topic.objects.get(slug=args.slug)
    users = make_users(max(args.sessions, 200))
    missing = args.replies - topic.posts.count()
    if missing > 0:
        add_replies(topic, missing, users, args.seed)
        if connection.vendor == "postgresql":
            # What autovacuum does to a live site's tables within minutes:
            # without it, every read of the fresh rows checks their visibility.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
    sessions = [session_for(user) for user in users[: args.sessions]]
    args.out.write_text(json.dumps(sessions))


if __name__ == "__main__":
    main()
