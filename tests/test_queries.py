"""Query budgets: page cost must not grow with the number of replies or topics.

Bounds are the counts measured when written; a new query must be justified in
the commit that raises one.
"""

from types import SimpleNamespace

import pytest
from django.core.cache import caches

from forum import services
from forum.models import Post, PostStatus

from .factories import make_post, make_topic, make_user, stance

# A thread page, anonymous, with every cache empty (replies' pieces are stored,
# not cached): the topic's stamp (id, `updated`, `revised`, reply count), the
# topic + its positions + parties + conflict parties (then cached per topic
# version), the page's post ids (so a deep page's OFFSET walks the index alone),
# those posts' rows with their stored pieces, and on the whole thread's first
# page the topic's stored tallies and the stance map's stored rendering. A
# cache hit is the stamp alone (tests/test_cache.py).
THREAD_QUERIES_ANONYMOUS = 9
# Deeper pages and filtered views lead with the replies: no stance map.
THREAD_QUERIES_DEEP = THREAD_QUERIES_ANONYMOUS - 2

# A first page whose stance map no page has shown since the tallies changed:
# its grouped count, then storing it in one statement (inside a savepoint,
# which the tests' transaction makes 3).
MAP_QUERIES = 4
# Signed in: + session and user, + the reader's disclosure defaults, + the
# reply form's stances and parties (the page itself is the anonymous one),
# + their unread count with their place in the topic (one query).
THREAD_QUERIES_SIGNED_IN = THREAD_QUERIES_ANONYMOUS + 2 + 3 + 1
# A reader's first view of a topic also records their place in it.
FIRST_VISIT = 1
# Staff pieces show hidden replies' text, so they are cached rather than
# stored: on an empty cache, staff also render theirs (PIECE_QUERIES - 3); the
# stance map is a topic's first view here (MAP_QUERIES), and the moderator's.
THREAD_QUERIES_STAFF = THREAD_QUERIES_SIGNED_IN + 4 + MAP_QUERIES + FIRST_VISIT
# A filter sums its stored tallies (no count of replies) and reads the reply
# numbers its runs start at (then cached per topic revision, so that a deep
# page seeks its run rather than walk an OFFSET); a stance filter also looks
# its slug up among the topic's: once to read the view (then cached per topic
# revision), once to render it.
FILTER_QUERIES = 2
STANCE_FILTER_QUERIES = 4
# Replies no page has shown since they changed: their rows with authors, their
# stances, tags and conflict parties; then their new pieces stored in one
# statement (inside a savepoint, which the tests' transaction makes 3).
PIECE_QUERIES = 7
# Anonymous: the cache stamp, topics + their positions, + one grouped count for
# every topic's stance map. Signed in: session and user instead of the stamp,
# + the header's unread count, + how far the reader read each topic (and,
# when they read some, one grouped count of the replies new to them).
LIST_QUERIES_ANONYMOUS = 4
LIST_QUERIES_SIGNED_IN = 7


def add_replies(topic, count, authors):
    """`count` replies using every feature a reply can show, in rotation."""
    parties = list(topic.parties.all())
    stance_sets = [
        [stance(topic, slug) for slug in slugs]
        for slugs in (
            ["supports-ban-endangers-defenders"],
            ["supports-ban-endangers-defenders", "opposes-ban-is-justified"],
            ["supports-ban-is-justified"],
            ["opposes-ban-endangers-defenders", "supports-ban-is-justified"],
        )
    ]
    kinds = [
        {"tags": ["exploits", "open source"]},
        {"authorship": "ai_generated", "ai_model": "Claude", "ai_maker": "Anthropic"},
        {
            "paid": "yes",
            "paid_by": "A lobby",
            "conflict": "declared",
            "conflict_parties": parties,
            "conflict_details": "I advise them.",
        },
        {
            "authorship": "ai_polished",
            "ai_model": "GPT-4o",
            "ai_maker": "OpenAI",
            "paid": "expected",
            "paid_by": "A think tank",
            "tags": ["policy"],
        },
    ]
    posts = []
    for i in range(count):
        posts.append(
            make_post(
                topic=topic,
                author=authors[i % len(authors)],
                stances=stance_sets[i % 3],
                parent=posts[i // 2] if i % 3 == 2 else None,
                body=f"Reply {i} in {topic.slug} with a [link](https://example.org/{i}).",
                **kinds[i % len(kinds)],
            )
        )
    hidden = posts[1::7]
    services.posts_set_status(
        posts=Post.objects.filter(pk__in=[p.pk for p in hidden]),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )
    return posts


@pytest.fixture
def authors(db):
    return [make_user() for _ in range(5)]


@pytest.fixture(
    params=[
        ("anonymous", THREAD_QUERIES_ANONYMOUS, LIST_QUERIES_ANONYMOUS),
        ("signed in", THREAD_QUERIES_SIGNED_IN, LIST_QUERIES_SIGNED_IN),
    ],
    ids=["anonymous", "signed in"],
)
def reader(request, client, db):
    """A client, anonymous then signed in, with its thread and list budgets."""
    who, thread, listing = request.param
    if who == "signed in":
        client.force_login(make_user())
    first_visit = FIRST_VISIT if who == "signed in" else 0
    return SimpleNamespace(
        client=client, thread=thread, listing=listing, first_visit=first_visit
    )


def count_queries(assert_max, client, url, budget):
    with assert_max(budget) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


def views(topic, pages: int) -> dict[str, str]:
    """A page of each kind, the deep ones as deep as the thread goes."""
    url = f"/t/{topic.slug}/"
    return {
        "first": url,
        "deep": f"{url}?page={pages}",
        "newest, deep": f"{url}?order=newest&page={pages}",
        "filtered": f"{url}?stance=supports-ban-endangers-defenders&ties=none",
        "filtered, deep": f"{url}?written=not_ai_generated&page={max(1, pages // 2)}",
    }


def budgets(first: int) -> dict[str, int]:
    deep = first - 2
    return {
        "first": first,
        "deep": deep,
        "newest, deep": deep,
        "filtered": deep + STANCE_FILTER_QUERIES,
        "filtered, deep": deep + FILTER_QUERIES,
    }


def test_thread_pages_cost_the_same_for_50_and_2000_replies(
    reader, authors, django_assert_max_num_queries
):
    """Every page and filter, on an empty cache, whatever the thread's size."""
    small, large = make_topic(), make_topic()
    add_replies(small, 50, authors)
    add_replies(large, 2000, authors)
    budget = budgets(reader.thread)

    counted = {}
    for topic, pages in ((small, 2), (large, 90)):
        for name, url in views(topic, pages).items():
            reader.client.get(url)  # renders and stores the pieces shown
            caches["default"].clear()
            # Counted in full, so a failure names every view over its budget.
            counted[topic.slug, name] = count_queries(
                django_assert_max_num_queries, reader.client, url, 100
            )

    assert counted == {
        (topic.slug, name): budget[name] for topic in (small, large) for name in budget
    }


def test_replies_not_shown_before_cost_the_same_for_1_and_25_on_a_page(
    reader, authors, settings, django_assert_max_num_queries
):
    """Replies are rendered into pieces together: no query runs per reply."""
    settings.STANDPOINT_POSTS_PER_PAGE = 50
    one, many = make_topic(), make_topic()
    add_replies(one, 1, authors)
    add_replies(many, 25, authors)
    budget = reader.thread + PIECE_QUERIES + MAP_QUERIES + reader.first_visit

    counts = [
        count_queries(
            django_assert_max_num_queries, reader.client, f"/t/{t.slug}/", budget
        )
        for t in (one, many)
    ]

    assert counts == [budget, budget]


def test_staff_thread_page_with_hidden_replies_keeps_its_budget(
    client, moderator, authors, django_assert_max_num_queries
):
    topic = make_topic()
    add_replies(topic, 40, authors)
    client.force_login(moderator)

    count = count_queries(
        django_assert_max_num_queries,
        client,
        f"/t/{topic.slug}/",
        THREAD_QUERIES_STAFF,
    )

    assert count == THREAD_QUERIES_STAFF


def test_topic_list_costs_the_same_for_1_and_5_topics(
    reader, authors, django_assert_max_num_queries
):
    add_replies(make_topic(), 6, authors)
    one = count_queries(
        django_assert_max_num_queries, reader.client, "/", reader.listing
    )
    for _ in range(4):
        add_replies(make_topic(), 6, authors)
    five = count_queries(
        django_assert_max_num_queries, reader.client, "/", reader.listing
    )

    assert one == five == reader.listing


# The other pages: each has a budget that does not grow with the thread.
# Reply form: session, user, topic, the author's disclosure defaults and
# suspension, the form's stances and parties, the header's unread count.
REPLY_FORM_QUERIES = 8
# Permalink: the post with its topic; its number names its page.
PERMALINK_QUERIES = 1
# Sign-in and sign-up forms: nothing but the (empty) session.
ACCOUNT_FORM_QUERIES = 0
HEALTHZ_QUERIES = 1


def test_reply_form_costs_the_same_for_a_short_and_a_long_thread(
    client, authors, django_assert_max_num_queries
):
    short, long = make_topic(), make_topic()
    add_replies(short, 2, authors)
    add_replies(long, 60, authors)
    client.force_login(make_user())

    counts = [
        count_queries(
            django_assert_max_num_queries,
            client,
            f"/t/{t.slug}/reply/",
            REPLY_FORM_QUERIES,
        )
        for t in (short, long)
    ]

    assert counts == [REPLY_FORM_QUERIES, REPLY_FORM_QUERIES]


def test_permalink_costs_the_same_early_and_deep_in_a_thread(
    client, authors, settings, django_assert_max_num_queries
):
    settings.STANDPOINT_POSTS_PER_PAGE = 5
    topic = make_topic()
    posts = add_replies(topic, 40, authors)
    visible = [p for p in posts if p.pk not in {h.pk for h in posts[1::7]}]

    counts = []
    for post in (visible[0], visible[-1]):
        with django_assert_max_num_queries(PERMALINK_QUERIES) as ctx:
            response = client.get(f"/p/{post.pk}/")
        assert response.status_code == 302
        counts.append(len(ctx))

    assert counts == [PERMALINK_QUERIES, PERMALINK_QUERIES]


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/"])
def test_account_forms_touch_no_table(client, db, url, django_assert_max_num_queries):
    assert (
        count_queries(django_assert_max_num_queries, client, url, ACCOUNT_FORM_QUERIES)
        == ACCOUNT_FORM_QUERIES
    )


def test_health_check_is_one_query(client, db, django_assert_max_num_queries):
    assert (
        count_queries(
            django_assert_max_num_queries, client, "/healthz", HEALTHZ_QUERIES
        )
        == HEALTHZ_QUERIES
    )
