"""Pick random thread paths that exist, for bench/run.py's spread loads, as JSON.

Readers spread over every page and every reader filter, and a filtered view
has fewer pages than the thread. Each view's pages are counted on the queryset
the thread page itself pages through, so no path picked here answers a 404.
"""

import argparse
import itertools
import json
import math
import random
import sys
from pathlib import Path
from urllib.parse import urlencode

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from django.contrib.auth.models import AnonymousUser  # noqa: E402

from forum.forms import ThreadFilterForm  # noqa: E402
from forum.models import Stance, Ties, Topic, Written  # noqa: E402
from forum.views.base import per_page  # noqa: E402


def filter_views(topic: Topic) -> list[dict[str, str]]:
    """Every combination of the filters, each left out or set to one of its values."""
    choices = {
        "stance": Stance.objects.filter(position__topic=topic).values_list(
            "slug", flat=True
        ),
        "written": Written.values,
        "ties": Ties.values,
    }
    return [
        {name: value for name, value in zip(choices, combo, strict=True) if value}
        for combo in itertools.product(
            *([None, *values] for values in choices.values())
        )
    ]


def page_count(topic: Topic, query: dict[str, str]) -> int:
    """How many pages the thread page shows for `query`, counted as it pages them."""
    filters = ThreadFilterForm(query, topic=topic)
    if not filters.is_valid():
        sys.exit(f"{query} is not a valid filter: {filters.errors.as_text()}")
    posts = topic.posts.all()
    if filters.is_filtering():
        posts = filters.filter(posts.visible_to(AnonymousUser()))
    return max(1, math.ceil(posts.count() / per_page()))  # page 1 exists even empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slug", required=True)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    topic = Topic.objects.get(slug=args.slug)
    views = [(query, page_count(topic, query)) for query in filter_views(topic)]
    rng, paths = random.Random(args.seed), []
    for _ in range(args.count):
        query, pages = rng.choice(views)
        # Order changes no page count: oldest first (the default) or newest.
        query = {**query, "order": "newest"} if rng.random() < 0.5 else dict(query)
        page = rng.randint(1, pages)
        if page > 1:
            query["page"] = str(page)
        paths.append(f"{topic.get_absolute_url()}?{urlencode(query)}".rstrip("?"))
    print(
        json.dumps(
            {
                "paths": paths,
                "views": 2 * len(views),
                "distinct": 2 * sum(pages for _, pages in views),
                "pages": page_count(topic, {}),
            }
        )
    )


if __name__ == "__main__":
    main()
