"""Count each benchmarked page's SQL queries and time its uncached render, as JSON.

The uncached (cold) render is what a page costs when no cache helps: the honest
measure of how the last page of a long thread compares with its first.
"""

import json
import statistics
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def measure(client: Client, url: str, runs: int = 7) -> dict:
    timings = []
    for _ in range(runs):
        for backend in caches.all():
            backend.clear()
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url, headers={"host": "127.0.0.1"})
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {"queries": len(ctx), "cold_ms": statistics.median(timings)}


def main() -> None:
    pages = json.loads(sys.argv[1])  # [[name, url, signed in], ...]
    anonymous, member = Client(), Client()
    member.force_login(get_user_model().objects.get(username="bench-0"))
    result = {
        name: measure(member if signed_in else anonymous, url)
        for name, url, signed_in in pages
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
