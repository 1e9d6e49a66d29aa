"""How long the history page's text diff takes on the worst edits a reader can make.

    .venv/bin/python bench/diff.py

The history page is public and recomputes its diffs, so a diff must stay cheap
whatever two 20,000-character bodies an author saves. Target: each under 50 ms.
"""

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from forum.history import text_diff  # noqa: E402
from forum.models import BODY_MAX_LENGTH  # noqa: E402

TARGET_MS = 50


def cases() -> dict[str, tuple[str, str]]:
    rng = random.Random(1)
    words = [rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(4000)]
    prose = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(300)]
    edited = [
        line if i % 7 else line.replace("beta", "BETA") for i, line in enumerate(prose)
    ]
    return {
        "one repeated word, one line": ("a " * 10_000, "b a " * 5_000),
        "one repeated line": ("a\n" * 10_000, "b\na\n" * 5_000),
        "four words shuffled, one line": (" ".join(words), " ".join(reversed(words))),
        "four words, one per line": ("\n".join(words), "\n".join(reversed(words))),
        "prose, every 7th line edited": ("\n".join(prose), "\n".join(edited)),
        # Each value just under 1% of the lines: autojunk never skips it.
        "6,600 short lines of 120 values": (
            "".join(f"{n % 120:02x}\n" for n in range(6_600)),
            "".join(f"{(n * 7) % 120:02x}\n" for n in range(6_600)),
        ),
        "490 short lines of 120 values": (
            "".join(f"{n % 120:02x}\n" for n in range(490)),
            "".join(f"{(n * 7) % 120:02x}\n" for n in range(490)),
        ),
    }


def main() -> int:
    missed = 0
    print(
        f"| edit (both bodies cut to {BODY_MAX_LENGTH:,} characters) | ms | runs | target |"
    )
    print("|---|---:|---:|---|")
    for name, (old, new) in cases().items():
        old, new = old[:BODY_MAX_LENGTH], new[:BODY_MAX_LENGTH]
        start = time.perf_counter()
        runs = text_diff(old, new)
        ms = (time.perf_counter() - start) * 1000
        ok = ms < TARGET_MS
        missed += not ok
        print(
            f"| {name} | {ms:.1f} | {len(runs)} | < {TARGET_MS} {'ok' if ok else 'MISSED'} |"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
