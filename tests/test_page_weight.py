"""What a thread page weighs, and what leads it (issue 14).

A reader who opens page 250 wants replies: pages after the first lead with
them, keeping the article and the stance map a link away and the article's
disclosure in view, and no page sends a reply's text twice.
"""

import re

import pytest

from .factories import make_post, make_user, stance
from .pages import page

pytestmark = pytest.mark.django_db

MAX_BYTES = 60_000  # for 20 typical replies
PARAGRAPHS = [
    "Export rules have never stopped a determined adversary, and the teams who "
    "defend hospitals and water systems are the ones who lose access first.",
    "Patch cycles depend on models that can **read a whole codebase** and explain "
    "a fix; the open letter's signatories say as much, with examples.",
    "- publish the rationale\n- time-limit the ban\n- review it with researchers",
    "See [the open letter](https://example.org/letter) and the list of signatories.",
]


@pytest.fixture
def long_thread(topic, settings):
    """Three pages of replies like a real thread's: a few paragraphs each, a mix
    of disclosures, stances and tags."""
    settings.STANDPOINT_POSTS_PER_PAGE = 20
    authors = [make_user() for _ in range(6)]
    parties = list(topic.parties.all())
    kinds = [
        {},
        {"authorship": "ai_polished", "ai_model": "GPT-4o", "ai_maker": "OpenAI"},
        {
            "conflict": "declared",
            "conflict_parties": parties[:2],
            "conflict_details": "I have advised them on this.",
        },
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"},
    ]
    slugs = ["supports-ban-endangers-defenders", "opposes-ban-is-justified"]
    return [
        make_post(
            topic=topic,
            author=authors[n % 6],
            body=f"Reply {n}. " + "\n\n".join(PARAGRAPHS[: 2 + n % 3]),
            stances=[stance(topic, slugs[n % 2])],
            tags=["exploits"] if n % 3 == 0 else [],
            **kinds[n % 4],
        )
        for n in range(60)
    ]


def test_pages_after_the_first_weigh_under_60_kb(client, topic, long_thread):
    for query in ("?page=2", "?page=3&order=newest", "?written=human"):
        response = client.get(f"/t/{topic.slug}/{query}")
        assert response.status_code == 200
        assert len(response.content) < MAX_BYTES, (query, len(response.content))


def test_a_reply_s_text_is_sent_once(client, topic, long_thread):
    html = page(client.get(f"/t/{topic.slug}/?page=2"))
    for n in range(20, 40):
        # The opening is in the JSON-LD too; the rest of the text only in the reply.
        assert html.count("read a whole codebase") <= 20
        assert html.count(f"Reply {n}.") == 2  # the reply, and its JSON-LD opening
    assert html.count("explain a fix") == len(re.findall(r'<article class="post', html))


def test_later_pages_lead_with_replies_and_keep_the_article_a_link_away(
    client, topic, long_thread
):
    first = page(client.get(f"/t/{topic.slug}/"))
    later = page(client.get(f"/t/{topic.slug}/?page=2"))

    assert 'class="positions"' in first and 'class="article-body"' in first
    assert 'class="positions"' not in later and 'class="article-body"' not in later
    # The article's disclosure stays in view, in the same words; the article
    # and the stance map are one link away.
    compact = re.search(
        r'<header class="topic topic-compact">.*?</header>', later, re.S
    )
    article = re.search(
        r'<section class="article-disclosure".*?</section>', first, re.S
    )
    strip = re.compile(r'<p class="disclosure.*?</p>', re.S)
    assert strip.search(compact[0])[0] == strip.search(article[0])[0]
    assert f'href="/t/{topic.slug}/#article"' in later
    assert f'href="/t/{topic.slug}/#positions-title"' in later
    assert later.index('class="topic topic-compact"') < later.index(
        '<article class="post'
    )
