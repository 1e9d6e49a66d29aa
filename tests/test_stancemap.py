"""The stance map and the reader filters: the numbers a reader sees must be the replies they get.

The map counts replies per stance, authorship class and interest class; each
segment links to the thread filtered to exactly those replies, so the counts,
the table, the links and the filters are checked against one set of replies
whose classes are written out by hand here, not derived by the code under test.
"""

import re
from collections import Counter
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from django.utils.html import escape

from forum import services, stancemap
from forum.models import (
    Party,
    Post,
    PostStance,
    PostStatus,
    StanceTally,
    Ties,
    Topic,
    Written,
)

from .factories import make_post, make_topic, make_user, stance
from .pages import page, shown_post_ids, squash

SUP_E = "supports-ban-endangers-defenders"
OPP_E = "opposes-ban-endangers-defenders"
SUP_J = "supports-ban-is-justified"
OPP_J = "opposes-ban-is-justified"

AI_GENERATED = {
    "authorship": "ai_generated",
    "ai_model": "Claude",
    "ai_maker": "Anthropic",
}
AI_POLISHED = {"authorship": "ai_polished", "ai_model": "GPT-4o", "ai_maker": "OpenAI"}
AI_ASSISTED = {"authorship": "ai_assisted", "ai_model": "Gemini", "ai_maker": "Google"}
PAID = {"paid": "yes", "paid_by": "A lobby"}
EXPECTS_PAY = {"paid": "expected", "paid_by": "A think tank"}


def party_tie(topic, *slugs):
    return {
        "conflict": "declared",
        "conflict_parties": list(topic.parties.filter(slug__in=slugs)),
        "conflict_details": "I advise them.",
    }


def hide(*posts):
    services.posts_set_status(
        posts=Post.objects.filter(pk__in=[p.pk for p in posts]),
        status=PostStatus.HIDDEN,
        actor=None,
        reason="Test reason.",
    )


@dataclass
class Reply:
    """A reply with the classes a reader would put it in, by hand."""

    post: Post
    stances: tuple[str, ...]
    written: str
    ties: str
    hidden: bool = False


@pytest.fixture
def thread(topic):
    """Ten replies covering every class on both bands; the last two are hidden."""
    specs = [
        ((SUP_E,), {}, "human", "none"),
        ((SUP_E,), AI_GENERATED, "ai_generated", "none"),
        ((SUP_E,), {**AI_POLISHED, **PAID}, "ai_helped", "declared"),
        ((SUP_E, OPP_J), party_tie(topic, "anthropic"), "human", "party"),
        ((OPP_E,), {**AI_ASSISTED, **EXPECTS_PAY}, "ai_helped", "declared"),
        ((SUP_J,), {**PAID, **party_tie(topic, "us-government")}, "human", "party"),
        (
            (OPP_J,),
            {**AI_GENERATED, **party_tie(topic, "anthropic", "us-government")},
            "ai_generated",
            "party",
        ),
        # Naming a party as the AI's maker or as employer is no conflict declared.
        (
            (SUP_E,),
            {**AI_POLISHED, "ai_maker": "Anthropic", "affiliation": "Anthropic PBC"},
            "ai_helped",
            "none",
        ),
        ((SUP_E,), {}, "human", "none"),
        ((OPP_J,), AI_GENERATED, "ai_generated", "none"),
    ]
    replies = [
        Reply(
            make_post(
                topic=topic,
                stances=[stance(topic, slug) for slug in slugs],
                body=f"Reply {i}.",
                **disclosure,
            ),
            slugs,
            written,
            ties,
        )
        for i, (slugs, disclosure, written, ties) in enumerate(specs)
    ]
    for reply in replies[-2:]:
        reply.hidden = True
    hide(*(reply.post for reply in replies[-2:]))
    return replies


def visible(replies):
    return [reply for reply in replies if not reply.hidden]


def expected_counts(replies) -> dict[tuple[str, str, str], int]:
    """(stance slug, band, class) -> published replies, from the hand-written classes."""
    counts = Counter()
    for reply in visible(replies):
        for slug in reply.stances:
            counts[slug, "written", reply.written] += 1
            counts[slug, "ties", reply.ties] += 1
    return dict(counts)


def map_counts(stance_map) -> dict[tuple[str, str, str], int]:
    """The same keys read off a StanceMap's segments, non-empty ones only."""
    return {
        (side.slug, segment.band, segment.key): segment.count
        for row in stance_map.rows
        for side in row.sides
        for segment in side.segments
        if segment.count
    }


def matching(replies, query: dict) -> list[int]:
    """Ids of the published replies a filter query should keep, in thread order."""
    kept = []
    for reply in visible(replies):
        if "stance" in query and query["stance"] not in reply.stances:
            continue
        written = query.get("written")
        if written == "not_ai_generated":
            if reply.written == "ai_generated":
                continue
        elif written and reply.written != written:
            continue
        if "ties" in query and reply.ties != query["ties"]:
            continue
        kept.append(reply.post.pk)
    return kept


def thread_url(topic) -> str:
    return f"/t/{topic.slug}/"


def query_of(href: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}


def absolute(response, href: str) -> str:
    """A link of the thread page as a path: its stance-map links are queries."""
    return urljoin(response.request["PATH_INFO"], unescape(href))


def segment_links(response) -> list[dict]:
    """Each stance-map segment on a thread page: its class, width, href and the
    title that names it (its tooltip and its accessible name)."""
    pattern = r'<a class="seg seg-(\w+) w(\d+)" href="([^"]+)" title="([^"]*)">'
    return [
        {
            "key": key,
            "width": int(width),
            "href": absolute(response, href),
            "title": unescape(title),
            "hidden": unescape(title),
        }
        for key, width, href, title in re.findall(pattern, page(response))
    ]


def table_cells(response) -> dict[str, int]:
    """href -> number for every linked count in the stance map's table."""
    match = re.search(r'<details class="sm-table">.*?</details>', page(response), re.S)
    assert match, "the stance map has no table"
    return {
        absolute(response, href): int(number)
        for href, number in re.findall(
            r'<td><a href="([^"]+)">(\d+)</a></td>', match[0]
        )
    }


def position_counts(response, position_slug) -> str:
    """The "N oppose(s) M support(s)" line of a position on the thread page."""
    match = re.search(
        rf'<li class="position" id="position-{position_slug}">.*?<p class="counts">(.*?)</p>',
        page(response),
        re.S,
    )
    return squash(match[1])


# Classification -----------------------------------------------------------


@pytest.mark.parametrize(
    ("authorship", "written"),
    [
        ("human", Written.HUMAN),
        ("ai_polished", Written.AI_HELPED),
        ("ai_assisted", Written.AI_HELPED),
        ("ai_generated", Written.AI_GENERATED),
    ],
)
def test_written_sorts_four_authorships_into_three_classes(authorship, written):
    assert Written.of(authorship) == written


def test_written_authorships_lists_the_members_of_each_class():
    assert Written.authorships(Written.HUMAN) == ["human"]
    assert Written.authorships(Written.AI_HELPED) == ["ai_polished", "ai_assisted"]
    assert Written.authorships(Written.AI_GENERATED) == ["ai_generated"]


@pytest.mark.parametrize(
    ("paid", "conflict", "has_party", "ties"),
    [
        ("no", "none", False, Ties.NONE),
        ("yes", "none", False, Ties.DECLARED),
        ("expected", "none", False, Ties.DECLARED),
        ("no", "declared", False, Ties.DECLARED),
        ("no", "declared", True, Ties.PARTY),
        ("yes", "declared", True, Ties.PARTY),
    ],
)
def test_ties_class_party_over_declared_over_none(paid, conflict, has_party, ties):
    assert Ties.of(paid=paid, conflict=conflict, has_party=has_party) == ties


def test_pay_and_party_ties_are_classed_by_the_replies_disclosures(topic, thread):
    """Paid or expecting pay is a declared interest; only a conflict naming a party
    of the topic is a party tie, not an AI maker, an employer or a payer named so."""
    counts = map_counts(stancemap.for_topic(topic))

    assert counts == expected_counts(thread)
    assert counts[SUP_E, "ties", "none"] == 3  # incl. an AI made by "Anthropic"
    assert counts[SUP_E, "ties", "declared"] == 1  # paid by a lobby
    assert counts[OPP_E, "ties", "declared"] == 1  # expects pay
    assert counts[SUP_J, "ties", "party"] == 1  # paid *and* tied: the tie wins


def test_declared_conflict_whose_parties_are_gone_counts_as_declared(topic):
    """Services refuse to remove a party a conflict names; deleted around them,
    the stored tally is stale until a recount (manage.py tallies) puts it right."""
    make_post(topic=topic, **party_tie(topic, "anthropic"))
    Party.objects.filter(topic=topic, slug="anthropic").delete()
    assert services.tallies_recount(topic_ids=[topic.pk], fix=True)

    counts = map_counts(stancemap.for_topic(topic))

    assert counts == {(SUP_E, "written", "human"): 1, (SUP_E, "ties", "declared"): 1}


def test_hidden_replies_and_other_topics_replies_are_not_counted(topic, other_topic):
    make_post(topic=topic)
    hide(make_post(topic=topic, **AI_GENERATED))
    make_post(topic=other_topic, stances=[stance(other_topic)])

    counts = map_counts(stancemap.for_topic(topic))

    assert counts == {(SUP_E, "written", "human"): 1, (SUP_E, "ties", "none"): 1}


# The map ------------------------------------------------------------------


def test_map_has_a_row_per_position_and_each_side_totals_its_bands(topic, thread):
    stance_map = stancemap.for_topic(topic)

    assert [row.position.slug for row in stance_map.rows] == [
        "ban-endangers-defenders",
        "ban-is-justified",
    ]
    totals = {side.slug: side.total for row in stance_map.rows for side in row.sides}
    assert totals == {SUP_E: 5, OPP_E: 1, SUP_J: 1, OPP_J: 2}
    for row in stance_map.rows:
        for side in row.sides:
            for band in ("written", "ties"):
                assert sum(s.count for s in side.bands[band]) == side.total
    # A reply with two stances counts once on each.
    assert stance_map.total == 9


def test_segment_and_side_links_filter_the_thread(topic, thread):
    row = stancemap.for_topic(topic).rows[0]
    url = thread_url(topic)

    assert row.supports.href == f"{url}?stance={SUP_E}"
    assert row.opposes.href == f"{url}?stance={OPP_E}"
    assert [s.href for s in row.supports.segments] == [
        f"{url}?stance={SUP_E}&written=human",
        f"{url}?stance={SUP_E}&written=ai_helped",
        f"{url}?stance={SUP_E}&written=ai_generated",
        f"{url}?stance={SUP_E}&written=ai_agent",
        f"{url}?stance={SUP_E}&ties=none",
        f"{url}?stance={SUP_E}&ties=declared",
        f"{url}?stance={SUP_E}&ties=party",
    ]


def test_segment_widths_share_one_scale_across_positions(topic, thread):
    """The biggest side (5 supports) fills its half; 2 opposes of another take 40%."""
    sides = {s.slug: s for row in stancemap.for_topic(topic).rows for s in row.sides}

    assert [s.width for s in sides[SUP_E].bands["written"]] == [40, 40, 20, 0]
    assert [s.width for s in sides[SUP_E].bands["ties"]] == [60, 20, 20]
    assert [s.width for s in sides[OPP_J].bands["written"]] == [20, 0, 20, 0]
    assert [s.width for s in sides[OPP_E].bands["ties"]] == [0, 20, 0]


def test_segment_description_says_count_and_class():
    one = stancemap.Segment("written", "human", "Human-written", 1, "/")
    many = stancemap.Segment("ties", "party", "Tied to a party", 3, "/")

    assert one.description == "1 human-written reply supports"
    assert many.description == "3 replies tied to a party support"


def test_segment_description_keeps_ai_in_capitals():
    segment = stancemap.Segment("written", "ai_generated", "AI-generated", 2, "/")

    assert "AI-generated" in segment.description


def test_empty_topic_map_has_zero_counts_and_widths(topic):
    stance_map = stancemap.for_topic(topic)

    assert stance_map.total == 0
    assert len(stance_map.rows) == 2
    for row in stance_map.rows:
        for side in row.sides:
            assert side.total == 0
            assert {(s.count, s.width) for s in side.segments} == {(0, 0)}


def test_for_topics_keeps_each_topics_replies_and_positions_apart(topic, other_topic):
    make_post(topic=topic, **AI_GENERATED)
    make_post(topic=topic, stances=[stance(topic, OPP_J)])
    make_post(
        topic=other_topic,
        stances=[stance(other_topic, "opposes-export-rules-work")],
        **party_tie(other_topic, "amazon"),
    )
    topics = list(
        Topic.objects.for_list_page().filter(pk__in=[topic.pk, other_topic.pk])
    )

    maps = stancemap.for_topics(topics)

    assert map_counts(maps[topic.pk]) == {
        (SUP_E, "written", "ai_generated"): 1,
        (SUP_E, "ties", "none"): 1,
        (OPP_J, "written", "human"): 1,
        (OPP_J, "ties", "none"): 1,
    }
    assert map_counts(maps[other_topic.pk]) == {
        ("opposes-export-rules-work", "written", "human"): 1,
        ("opposes-export-rules-work", "ties", "party"): 1,
    }
    assert "export-rules-work" in [r.position.slug for r in maps[other_topic.pk].rows]
    assert (
        maps[other_topic.pk]
        .rows[-1]
        .opposes.href.startswith(f"/t/{other_topic.slug}/?")
    )


# Widths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "scale", "expected"),
    [
        ([1, 1, 1], 3, [34, 33, 33]),
        ([1, 2, 3], 6, [17, 33, 50]),
        ([2, 1, 0], 6, [33, 17, 0]),
        ([3, 0, 0], 3, [100, 0, 0]),
        ([1, 1, 1], 7, [15, 14, 14]),
    ],
)
def test_widths_are_whole_percents_with_leftovers_to_largest_remainders(
    counts, scale, expected
):
    result = stancemap.widths(counts, scale)

    assert result == expected
    assert sum(result) == round(sum(counts) * 100 / scale)


def test_widths_sum_to_the_rounded_total_for_many_mixes():
    for scale in range(1, 31):
        for a in range(scale + 1):
            for b in range(scale + 1 - a):
                for c in (0, scale - a - b):
                    result = stancemap.widths([a, b, c], scale)
                    target = round((a + b + c) * 100 / scale)
                    assert sum(result) == target, (a, b, c, scale)
                    assert [bool(w) for w in result] == [bool(n) for n in (a, b, c)]


def test_widths_never_draw_a_single_reply_at_zero():
    assert stancemap.widths([1, 0, 0], 500) == [1, 0, 0]
    assert stancemap.widths([0, 1, 499], 500) == [0, 1, 99]


def test_widths_of_an_empty_scale_are_zeros():
    assert stancemap.widths([0, 0, 0], 0) == [0, 0, 0]
    assert stancemap.widths([], 0) == []


def test_widths_floors_do_not_push_a_full_side_past_100():
    result = stancemap.widths([1, 1, 198], 200)

    assert 0 not in result
    assert sum(result) == 100


# Query counts -------------------------------------------------------------


def add_replies(topic, count, authors):
    """`count` replies rotating through stances and every disclosure class."""
    kinds = [{}, AI_GENERATED, {**AI_POLISHED, **PAID}, party_tie(topic, "anthropic")]
    stance_sets = [[SUP_E], [SUP_E, OPP_J], [OPP_E, SUP_J]]
    for i in range(count):
        make_post(
            topic=topic,
            author=authors[i % len(authors)],
            stances=[stance(topic, slug) for slug in stance_sets[i % 3]],
            body=f"Reply {i} in {topic.slug}.",
            **kinds[i % len(kinds)],
        )


@pytest.fixture
def authors(db):
    return [make_user() for _ in range(5)]


def test_stance_map_reads_the_same_stored_rows_for_1_and_200_replies(
    authors, django_assert_num_queries
):
    small, large = make_topic(), make_topic()
    add_replies(small, 1, authors)
    add_replies(large, 200, authors)

    for topic in (small, large):
        links = PostStance.objects.filter(content_object__topic=topic).count()
        loaded = Topic.objects.for_list_page().get(pk=topic.pk)
        with django_assert_num_queries(1):
            built = stancemap.for_topic(loaded)
        assert built.total == links
        # Stored per segment, not per reply: 2 positions, 2 sides, 3 x 3 classes.
        assert StanceTally.objects.filter(topic=topic).count() <= 2 * 2 * 3 * 3


def test_for_topics_is_one_query_for_1_and_5_topics(authors, django_assert_num_queries):
    topics = [make_topic() for _ in range(5)]
    for n, topic in enumerate(topics, start=1):
        add_replies(topic, n * 3, authors)
    loaded = list(Topic.objects.for_list_page().filter(pk__in=[t.pk for t in topics]))

    with django_assert_num_queries(1):
        one = stancemap.for_topics(loaded[:1])
    with django_assert_num_queries(1):
        five = stancemap.for_topics(loaded)

    assert set(five) == {t.pk for t in topics}
    assert map_counts(one[loaded[0].pk]) == map_counts(five[loaded[0].pk])
    assert {pk: m.total for pk, m in five.items()} == {
        t.pk: n * 3 * 5 // 3 for n, t in enumerate(topics, start=1)
    }


@pytest.fixture
def map_builds(monkeypatch):
    """The topic ids the thread page builds a stance map for, in order."""
    built = []
    build = stancemap.for_topic

    def counted(topic):
        built.append(topic.pk)
        return build(topic)

    monkeypatch.setattr(stancemap, "for_topic", counted)
    return built


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed in"])
def test_thread_builds_the_stance_map_once_per_topic_version(
    client, topic, settings, map_builds, signed_in
):
    settings.STANDPOINT_POSTS_PER_PAGE = 1
    make_post(topic=topic)
    make_post(topic=topic, **AI_GENERATED)
    if signed_in:
        client.force_login(make_user())
    # The whole thread's first page, in either order, leads with the map.
    for query in ({}, {"order": "newest"}):
        response = client.get(thread_url(topic), query)
        assert response.status_code == 200
        assert position_counts(response, "ban-endangers-defenders") == (
            "0 oppose 2 support"
        )
    # Deeper pages and filtered views lead with replies: the map is a link away.
    for query in ({"page": "2"}, {"stance": SUP_E}, {"written": "human"}):
        response = client.get(thread_url(topic), query)
        assert response.status_code == 200
        assert 'class="positions"' not in page(response)
        assert f'href="{thread_url(topic)}#positions-title"' in page(response)

    assert map_builds == [topic.pk]


def test_a_new_reply_rebuilds_the_stance_map_with_its_numbers(
    client, topic, map_builds
):
    make_post(topic=topic)
    first = client.get(thread_url(topic))
    assert position_counts(first, "ban-endangers-defenders") == "0 oppose 1 supports"

    make_post(topic=topic, stances=[stance(topic, OPP_E)])
    second = client.get(thread_url(topic), {"order": "newest"})

    assert position_counts(second, "ban-endangers-defenders") == "1 opposes 1 supports"
    assert map_builds == [topic.pk, topic.pk]
    assert f'href="?stance={OPP_E}&amp;written=human"' in page(second)


# The map on the thread page ------------------------------------------------


def test_thread_segments_are_links_to_their_filter_with_a_hidden_description(
    client, topic, thread
):
    links = segment_links(client.get(thread_url(topic)))

    by_href = {link["href"]: link for link in links}
    human = by_href[f"{thread_url(topic)}?stance={SUP_E}&written=human"]
    assert human["key"] == "human"
    assert human["width"] == 40
    assert human["hidden"] == "2 human-written replies support"
    assert human["title"] == human["hidden"]
    party = by_href[f"{thread_url(topic)}?stance={OPP_J}&ties=party"]
    assert party["hidden"] == "2 replies tied to a party oppose"
    # Only non-empty segments are drawn: one link per class a reply is in.
    assert len(links) == len(expected_counts(thread))


def test_segment_of_a_single_reply_reads_as_a_sentence(client, topic, thread):
    links = segment_links(client.get(thread_url(topic)))

    by_href = {link["href"]: link for link in links}
    single = by_href[f"{thread_url(topic)}?stance={SUP_J}&written=human"]
    assert single["hidden"] == "1 human-written reply supports"


def test_thread_segments_and_table_show_the_same_numbers(client, topic, thread):
    response = client.get(thread_url(topic))

    bars = {
        link["href"]: int(link["hidden"].split()[0]) for link in segment_links(response)
    }
    table = table_cells(response)
    url = thread_url(topic)
    expected = {
        f"{url}?stance={slug}&{band}={key}": n
        for (slug, band, key), n in expected_counts(thread).items()
    }
    assert bars == expected
    assert {href: n for href, n in table.items() if "&" in href} == expected
    # The "All" column: each side's total, linked to the stance alone.
    assert {href: n for href, n in table.items() if "&" not in href} == {
        f"{url}?stance={SUP_E}": 5,
        f"{url}?stance={OPP_E}": 1,
        f"{url}?stance={SUP_J}": 1,
        f"{url}?stance={OPP_J}": 2,
    }


def test_following_each_segment_shows_exactly_its_replies(client, topic, thread):
    links = segment_links(client.get(thread_url(topic)))
    assert links

    for link in links:
        response = client.get(link["href"])
        assert response.status_code == 200
        expected = matching(thread, query_of(link["href"]))
        assert shown_post_ids(response) == expected, link["href"]
        assert len(expected) == int(link["hidden"].split()[0])


def test_thread_without_replies_shows_no_bars_and_no_table(client, topic):
    response = client.get(thread_url(topic))

    assert "No replies have taken a stance yet." in page(response)
    assert 'class="sm-bar"' not in page(response)
    assert 'class="sm-table"' not in page(response)
    assert position_counts(response, "ban-is-justified") == "0 oppose 0 support"


# Reader filters ------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"written": "human"},
        {"written": "not_ai_generated"},
        {"written": "ai_helped"},
        {"written": "ai_generated"},
        {"ties": "none"},
        {"ties": "declared"},
        {"ties": "party"},
    ],
    ids=lambda query: "=".join(*query.items()),
)
def test_written_and_ties_filters_keep_exactly_their_replies(
    client, topic, thread, query
):
    response = client.get(thread_url(topic), query)

    expected = matching(thread, query)
    assert response.status_code == 200
    assert expected
    assert shown_post_ids(response) == expected
    result = squash(re.search(r'<p class="result-count">(.*?)</p>', page(response))[1])
    noun = "reply" if len(expected) == 1 else "replies"
    assert result == f"{len(expected)} {noun} match these filters."


@pytest.mark.parametrize(
    "query",
    [
        {"stance": SUP_E, "written": "human"},
        {"stance": SUP_E, "written": "not_ai_generated"},
        {"stance": SUP_E, "ties": "none"},
        {"stance": OPP_J, "ties": "party", "written": "ai_generated"},
        {"stance": SUP_J, "written": "ai_generated"},
    ],
    ids=["human", "not-ai-generated", "no-ties", "party-and-ai", "none-match"],
)
def test_filters_combine_with_a_stance(client, topic, thread, query):
    response = client.get(thread_url(topic), query)

    assert response.status_code == 200
    assert shown_post_ids(response) == matching(thread, query)


def test_no_match_says_so_with_a_link_to_all_replies(client, topic, thread):
    response = client.get(thread_url(topic), {"stance": SUP_J, "ties": "none"})

    assert shown_post_ids(response) == []
    assert "No replies match these filters." in page(response)
    assert f'<a href="{thread_url(topic)}">Show all replies</a>' in page(response)


def test_newest_first_reverses_the_thread_and_keeps_tombstones(client, topic, thread):
    response = client.get(thread_url(topic), {"order": "newest"})

    everything = [reply.post.pk for reply in thread]
    assert shown_post_ids(response) == everything[::-1]
    assert "newest first." in squash(
        re.search(r'<p class="result-count">(.*?)</p>', page(response))[1]
    )


def test_newest_first_combines_with_filters_and_pages(client, topic, thread, settings):
    settings.STANDPOINT_POSTS_PER_PAGE = 2
    query = {"stance": SUP_E, "written": "not_ai_generated", "order": "newest"}
    newest_first = matching(thread, query)[::-1]
    assert len(newest_first) == 4

    first = client.get(thread_url(topic), query)
    second = client.get(thread_url(topic), {**query, "page": "2"})

    assert shown_post_ids(first) == newest_first[:2]
    assert shown_post_ids(second) == newest_first[2:]
    assert (
        f'<a rel="next" href="?stance={SUP_E}&amp;written=not_ai_generated'
        '&amp;order=newest&amp;page=2">'
    ) in page(first)
    assert (
        f'<a rel="prev" href="?stance={SUP_E}&amp;written=not_ai_generated'
        '&amp;order=newest&amp;page=1">'
    ) in page(second)
    # Newest first, the next page holds older replies: the links say so.
    assert "Older →</a>" in page(first)
    assert "← Newer</a>" in page(second)


@pytest.mark.parametrize(
    "query",
    [{"ties": "party"}, {"written": "ai_helped"}, {"written": "human", "ties": "none"}],
    ids=["party", "ai-helped", "human-no-ties"],
)
def test_filters_page_through_exactly_their_replies(
    client, topic, thread, settings, query
):
    settings.STANDPOINT_POSTS_PER_PAGE = 1
    expected = matching(thread, query)

    shown = []
    for number in range(1, len(expected) + 1):
        response = client.get(thread_url(topic), {**query, "page": str(number)})
        assert response.status_code == 200
        shown += shown_post_ids(response)
    past_the_end = client.get(
        thread_url(topic), {**query, "page": str(len(expected) + 1)}
    )

    assert shown == expected
    assert past_the_end.status_code == 404


def test_hidden_replies_are_left_out_of_filtered_views(client, topic, thread):
    hidden = [reply.post.pk for reply in thread if reply.hidden]

    for query in ({"written": "human"}, {"written": "ai_generated"}, {"ties": "none"}):
        shown = shown_post_ids(client.get(thread_url(topic), query))
        assert not set(shown) & set(hidden), query


def active_chips(response) -> list[tuple[str, str]]:
    """(label, href) of each "Filters in use" chip."""
    match = re.search(r'<div class="active-filters">(.*?)</div>', page(response), re.S)
    if not match:
        return []
    return [
        (squash(label).replace("\xa0", " "), unescape(href))
        for href, label in re.findall(
            r'<a class="chip on" href="([^"]+)">(.*?)</a>', match[1], re.S
        )
    ]


def test_active_filter_chips_each_drop_only_their_own_parameter(
    client, topic, thread, settings
):
    settings.STANDPOINT_POSTS_PER_PAGE = 1
    query = {
        "stance": SUP_E,
        "written": "not_ai_generated",
        "ties": "none",
        "order": "newest",
        "page": "2",
    }

    response = client.get(thread_url(topic), query)

    assert response.status_code == 200
    assert active_chips(response) == [
        (
            "Supports: The ban endangers defenders ✕(remove this filter)",
            "?written=not_ai_generated&ties=none&order=newest",
        ),
        (
            "Hide AI-generated ✕(remove this filter)",
            f"?stance={SUP_E}&ties=none&order=newest",
        ),
        (
            "No declared interests only ✕(remove this filter)",
            f"?stance={SUP_E}&written=not_ai_generated&order=newest",
        ),
        (
            "Newest first ✕(remove this filter)",
            f"?stance={SUP_E}&written=not_ai_generated&ties=none",
        ),
    ]


def test_removing_a_filter_by_its_chip_widens_the_replies(client, topic, thread):
    response = client.get(thread_url(topic), {"stance": OPP_J, "ties": "party"})
    (_, without_stance), (_, without_ties) = active_chips(response)

    widened = client.get(thread_url(topic) + without_stance)

    assert without_ties == f"?stance={OPP_J}"
    assert shown_post_ids(widened) == matching(thread, {"ties": "party"})


def test_reset_all_filters_links_to_the_plain_thread(client, topic, thread):
    filtered = client.get(thread_url(topic), {"written": "human", "order": "newest"})
    plain = client.get(thread_url(topic))

    reset = re.search(
        r'<a class="reset" href="([^"]+)">Reset all filters</a>', page(filtered)
    )
    assert reset[1] == thread_url(topic)
    assert "Reset all filters" not in page(plain)
    assert active_chips(plain) == []


def test_quick_filter_chips_turn_on_and_off_keeping_the_other_filters(
    client, topic, thread
):
    response = client.get(
        thread_url(topic), {"stance": SUP_E, "written": "human", "page": "1"}
    )
    toggles = re.search(
        r'<ul class="chips" aria-label="Who wrote them and their ties">(.*?)</ul>',
        page(response),
        re.S,
    )[1]
    chips = {
        squash(label): unescape(href)
        for href, label in re.findall(
            r'<a class="chip[^"]*"(?: aria-current="true")? href="([^"]+)">(.*?)</a>',
            toggles,
        )
    }

    assert chips == {
        "✓ Human-written only (on; select to turn off)": f"?stance={SUP_E}",
        "Hide AI-generated": f"?stance={SUP_E}&written=not_ai_generated",
        "Hide agents": f"?stance={SUP_E}&written=not_ai_agent",
        "No declared interests only": f"?stance={SUP_E}&written=human&ties=none",
        "Tied to a party only": f"?stance={SUP_E}&written=human&ties=party",
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"written": "robot"}, "Choose who wrote them from the list."),
        ({"written": "ai_polished"}, "Choose who wrote them from the list."),
        ({"ties": "paid"}, "Choose a kind of tie from the list."),
        ({"order": "oldest"}, "Order is “newest” or left out (oldest)."),
    ],
    ids=["unknown written", "authorship as written", "unknown ties", "unknown order"],
)
def test_filter_with_a_bad_value_is_400_with_its_message(
    client, topic, thread, query, message
):
    response = client.get(thread_url(topic), {"stance": SUP_E, **query})

    assert response.status_code == 400
    assert f"<li>{escape(message)}</li>" in page(response)


# The topic list -------------------------------------------------------------


def topic_cards(response) -> dict[str, str]:
    """Each topic card's HTML by the thread URL its title links to."""
    return dict(
        re.findall(
            r'<article class="topic-card">\s*<h2><a href="([^"]+)">(.*?)</article>',
            page(response),
            re.S,
        )
    )


def test_topic_list_shows_one_compact_map_per_topic_linking_to_its_stances(
    client, topic, other_topic, thread
):
    make_post(topic=other_topic, stances=[stance(other_topic, SUP_J)], **AI_GENERATED)
    response = client.get("/")

    cards = topic_cards(response)
    assert set(cards) == {thread_url(topic), thread_url(other_topic)}
    for card in cards.values():
        assert card.count('<table class="position-counts">') == 1
    counts = re.findall(
        r'<a href="([^"]+)" aria-label="([^"]+)">(\d+)</a>', cards[thread_url(topic)]
    )
    url = thread_url(topic)
    assert [(unescape(href), label, int(n)) for href, label, n in counts] == [
        (f"{url}?stance={OPP_E}", "1 oppose: The ban endangers defenders", 1),
        (f"{url}?stance={SUP_E}", "5 support: The ban endangers defenders", 5),
        (f"{url}?stance={OPP_J}", "2 oppose: The ban is justified", 2),
        (f"{url}?stance={SUP_J}", "1 support: The ban is justified", 1),
    ]


def test_topic_list_bars_split_by_who_wrote_the_replies(client, topic, thread):
    make_topic(title="Quiet debate")
    response = client.get("/")

    cards = topic_cards(response)
    bars = re.findall(
        r'<td class="mini-bar" aria-hidden="true">(.*?)</td>',
        cards[thread_url(topic)],
        re.S,
    )
    segments = [re.findall(r'class="seg seg-(\w+) w(\d+)"', bar) for bar in bars]
    assert segments == [
        # Opposes (1 AI-helped), then supports (2 human, 2 AI-helped, 1 AI-generated).
        [
            ("ai_helped", "20"),
            ("human", "40"),
            ("ai_helped", "40"),
            ("ai_generated", "20"),
        ],
        [("human", "20"), ("ai_generated", "20"), ("human", "20")],
    ]
    quiet = next(card for card in cards.values() if "Quiet debate" in card)
    assert 'class="seg ' not in quiet


def test_table_rows_name_their_position_and_stance(client, topic, thread):
    """Each count is read with its row's headers: the claim and the stance."""
    table = re.search(r"<table>.*?</table>", page(client.get(thread_url(topic))), re.S)
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)[1:]

    headers = [
        [squash(h) for h in re.findall(r'<th scope="row">(.*?)</th>', row, re.S)]
        for row in rows
    ]
    assert headers == [
        ["The ban endangers defenders", "Opposes"],
        ["The ban endangers defenders", "Supports"],
        ["The ban is justified", "Opposes"],
        ["The ban is justified", "Supports"],
    ]
