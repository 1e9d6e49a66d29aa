"""Pages keyed on what they show: older runs of replies stay cached while people
post, and signed-in readers get the shared rendering with their parts in it."""

import json
import re

import pytest
from django.core.cache import caches
from django.test import Client

from forum import services, sharing
from forum.models import Post, PostStatus, StanceMapPiece, Topic

from .factories import disclosure, edit_post, make_post, make_user, stance
from .pages import (
    messages_shown,
    page,
    post_block,
    reply_data,
    reply_url,
    shown_post_ids,
    signed_in,
)
from .test_cache import CACHED_PAGE_QUERIES

ENDANGERS = "supports-ban-endangers-defenders"


@pytest.fixture
def seven(settings, topic):
    """Seven replies, three a page: runs [1-3], [4-6] and the newest, [7]."""
    settings.STANDPOINT_POSTS_PER_PAGE = 3
    return [
        make_post(topic=topic, stances=[stance(topic, ENDANGERS)]) for _ in range(7)
    ]


def ids(posts, *numbers):
    return [posts[n - 1].pk for n in numbers]


def result_line(response) -> str:
    return re.search(r'<p class="result-count">(.*?)</p>', page(response))[1]


def jsonld(response) -> dict:
    found = re.search(
        r'<script type="application/ld\+json">(.*?)</script>', page(response), re.S
    )
    return json.loads(found[1])


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"order": "newest"}, [7]),
        ({"order": "newest", "page": "2"}, [6, 5, 4]),
        ({"order": "newest", "page": "3"}, [3, 2, 1]),
        ({"stance": ENDANGERS, "order": "newest"}, [7]),
        ({"stance": ENDANGERS, "order": "newest", "page": "3"}, [3, 2, 1]),
    ],
)
def test_newest_first_pages_are_the_same_runs_read_backwards(
    client, topic, seven, query, shown
):
    response = client.get(f"/t/{topic.slug}/", query)

    assert response.status_code == 200
    assert shown_post_ids(response) == ids(seven, *shown)


def test_a_new_reply_changes_only_the_newest_run_and_the_first_page(
    client, topic, seven, django_assert_max_num_queries
):
    url = f"/t/{topic.slug}/"
    older = [
        f"{url}?page=2",
        f"{url}?order=newest&page=2",
        f"{url}?order=newest&page=3",
        f"{url}?stance={ENDANGERS}",
        f"{url}?stance={ENDANGERS}&order=newest&page=2",
    ]
    changing = [url, f"{url}?page=3", f"{url}?order=newest"]
    before = {path: client.get(path) for path in older + changing}

    eighth = make_post(topic=topic, stances=[stance(topic, ENDANGERS)])

    for path in older:
        with django_assert_max_num_queries(CACHED_PAGE_QUERIES + 1) as ctx:
            again = client.get(path, headers={"if-none-match": before[path]["ETag"]})
        assert again.status_code == 304, path
        # The stamp, and for a filter its stored count: nothing rendered.
        assert len(ctx) <= CACHED_PAGE_QUERIES + 1, path
    for path in changing:
        after = client.get(path)
        assert after["ETag"] != before[path]["ETag"], path
    assert eighth.pk in shown_post_ids(client.get(f"{url}?page=3"))
    assert shown_post_ids(client.get(f"{url}?order=newest")) == [eighth.pk, seven[6].pk]
    assert "8 replies" in result_line(client.get(url))


def test_an_older_run_gives_its_place_and_no_count(client, topic, seven):
    older = client.get(f"/t/{topic.slug}/", {"order": "newest", "page": "2"})
    newest = client.get(f"/t/{topic.slug}/", {"order": "newest"})

    assert result_line(older) == "Replies 6–4, newest first."
    assert "commentCount" not in jsonld(older)
    assert jsonld(older)["dateModified"] == (
        Topic.objects.get(pk=topic.pk).revised.isoformat()
    )
    assert result_line(newest).startswith("7 replies")
    assert jsonld(newest)["commentCount"] == 7


@pytest.mark.parametrize("change", ["edit", "hide", "lock", "stance"])
def test_every_change_but_a_new_reply_reaches_the_older_runs(
    client, topic, seven, moderator, change
):
    path = f"/t/{topic.slug}/?page=2"
    fourth = seven[3]
    before = client.get(path)
    assert 'class="reply-link"' in post_block(before, fourth)

    if change == "edit":
        edit_post(fourth, body="Changed my mind, in part.")
        assert "Changed my mind, in part." in post_block(client.get(path), fourth)
    elif change == "hide":
        services.posts_set_status(
            posts=Post.objects.filter(pk=fourth.pk),
            status=PostStatus.HIDDEN,
            actor=moderator,
            reason="Off topic.",
        )
        assert "Hidden by moderators: Off topic." in post_block(
            client.get(path), fourth
        )
    elif change == "lock":
        services.topics_set_flag(
            topics=Topic.objects.filter(pk=topic.pk),
            flag="is_locked",
            value=True,
            actor=moderator,
            reason="Closed.",
        )
        assert 'class="reply-link"' not in post_block(client.get(path), fourth)
    else:
        position = stance(topic, ENDANGERS).position
        position.claim = "The ban leaves defenders exposed"
        services.topic_save_parts(topic=topic, saved=[position], deleted=[])
        assert "The ban leaves defenders exposed" in post_block(
            client.get(path), fourth
        )


def test_signed_in_readers_get_the_shared_page_with_only_their_own_parts(topic, seven):
    alice, bob = make_user(), make_user()
    mine = make_post(topic=topic, author=alice)  # on the newest run, page 3
    path = f"/t/{topic.slug}/?page=3"
    anonymous = Client().get(path)

    as_alice = signed_in(alice).get(path)
    as_bob = signed_in(bob).get(path)
    anonymous_again = Client().get(path)

    assert anonymous_again.content == anonymous.content
    for response, reader, other in ((as_alice, alice, bob), (as_bob, bob, alice)):
        html = page(response)
        assert f'Signed in as <a href="/u/{reader.username}/">' in html
        assert other.username not in html.split("</header>")[0]
        assert 'name="csrfmiddlewaretoken"' in html
        assert sharing.TOKEN not in html
        assert f'data-draft-owner="{reader.pk}"' in html
        assert not re.search(r"<!--(account|/account|reply|/reply|messages|edit)", html)
        # The replies are the anonymous page's, byte for byte.
        assert shown_post_ids(response) == shown_post_ids(anonymous)
    assert 'class="edit-link"' in post_block(as_alice, mine)
    assert 'class="edit-link"' not in post_block(as_bob, mine)
    assert "Signed in as" not in page(anonymous_again)
    assert 'name="csrfmiddlewaretoken"' not in page(anonymous_again)


def test_each_signed_in_request_gets_its_own_csrf_token(topic, seven):
    reader = signed_in(make_user())
    path = f"/t/{topic.slug}/"
    tokens = [
        re.findall(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', page(reader.get(path))
        )
        for _ in range(2)
    ]

    assert len(tokens[0]) == 3  # sign out, the watch level, and the reply form
    assert tokens[0][0] != tokens[1][0]


def test_the_reply_posted_message_shows_on_the_shared_page(topic, user):
    reader = signed_in(user)
    reader.get(f"/t/{topic.slug}/")  # the shared page is stored

    response = reader.post(
        reply_url(topic),
        reply_data(body="A reply with a message after it."),
        follow=True,
    )

    assert response.status_code == 200
    assert "Your reply is posted." in " ".join(messages_shown(response))
    assert "Your reply is posted." not in page(Client().get(f"/t/{topic.slug}/"))


def test_a_reply_a_filter_does_not_pick_leaves_that_view_cached(client, topic, seven):
    """Every page of a view with a known count is keyed on that count, not on
    the topic's every change: its newest run too."""
    picked = f"/t/{topic.slug}/?stance={ENDANGERS}&order=newest"
    other = f"/t/{topic.slug}/?stance=opposes-ban-is-justified"
    before = {path: client.get(path) for path in (picked, other)}

    make_post(topic=topic, stances=[stance(topic, "opposes-ban-is-justified")])

    unchanged = client.get(picked, headers={"if-none-match": before[picked]["ETag"]})
    changed = client.get(other, headers={"if-none-match": before[other]["ETag"]})
    assert unchanged.status_code == 304
    assert changed.status_code == 200
    assert result_line(changed).startswith("1 reply")


def test_the_stored_stance_map_follows_every_change_it_shows(
    client, topic, seven, moderator
):
    """Stored for an empty cache, but never served once the tallies or the
    topic's positions changed."""
    url = f"/t/{topic.slug}/"

    def counts() -> str:
        caches["default"].clear()
        html = page(client.get(url))
        return re.search(r'<p class="counts">(.*?)</p>', html, re.S)[1]

    assert "7 support<" in counts()
    assert StanceMapPiece.objects.filter(topic=topic).exists()
    stored = StanceMapPiece.objects.get(topic=topic)
    stored.html = stored.html.replace(">7 support<", ">70 support<")
    stored.save()
    assert "70 support<" in counts()  # read from the store, not rendered

    make_post(topic=topic, stances=[stance(topic, ENDANGERS)])
    assert "8 support<" in counts()
    services.posts_set_status(
        posts=Post.objects.filter(pk=seven[0].pk),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Spam.",
    )
    assert "7 support<" in counts()
    position = stance(topic, ENDANGERS).position
    position.claim = "Defenders lose the most"
    services.topic_save_parts(topic=topic, saved=[position], deleted=[])
    caches["default"].clear()
    assert "Defenders lose the most" in page(client.get(url))


def test_filtered_pages_seek_their_runs_and_stay_right_as_the_thread_changes(
    client, settings, topic, moderator
):
    """A filter's pages start at reply numbers read once per revision
    (views.threads.run_starts): replies posted after that, and changes that
    move the revision, still give every page exactly its run, in both orders."""
    settings.STANDPOINT_POSTS_PER_PAGE = 3
    endangers = stance(topic, ENDANGERS)
    justified = stance(topic, "opposes-ban-is-justified")
    for number in range(10):  # the odd ones take the stance: five of them
        make_post(topic=topic, stances=[endangers if number % 2 == 0 else justified])
    url = f"/t/{topic.slug}/"

    def check():
        picked = list(
            Post.objects.filter(
                topic=topic, status=PostStatus.PUBLISHED, stance_links__tag=endangers
            )
            .order_by("number")
            .values_list("pk", flat=True)
        )
        runs = [picked[start : start + 3] for start in range(0, len(picked), 3)]
        for number, run in enumerate(runs, start=1):
            oldest = client.get(url, {"stance": ENDANGERS, "page": number})
            newest = client.get(
                url,
                {
                    "stance": ENDANGERS,
                    "order": "newest",
                    "page": len(runs) - number + 1,
                },
            )
            assert shown_post_ids(oldest) == run, number
            assert shown_post_ids(newest) == run[::-1], number
        beyond = client.get(url, {"stance": ENDANGERS, "page": len(runs) + 1})
        assert beyond.status_code == 404

    check()  # reads the starts: runs [1, 3, 5], [7, 9]
    for number in range(4):  # two runs more, neither in the starts read
        make_post(topic=topic, stances=[justified if number == 1 else endangers])
    check()
    services.posts_set_status(
        posts=Post.objects.filter(topic=topic, number=3),
        status=PostStatus.HIDDEN,
        actor=moderator,
        reason="Off topic.",
    )
    check()
    edit_post(Post.objects.get(topic=topic, number=5), stances=[justified])
    check()


def test_a_filtered_view_that_was_empty_shows_its_first_reply(client, topic, seven):
    """Its run starts were read while it had none: the first reply still shows."""
    url = f"/t/{topic.slug}/"
    empty = client.get(url, {"written": "ai_generated"})
    assert shown_post_ids(empty) == []

    first = make_post(
        topic=topic,
        stances=[stance(topic, ENDANGERS)],
        disclosure=disclosure(
            authorship="ai_generated", ai_model="Claude", ai_maker="Anthropic"
        ),
    )

    for query in (
        {"written": "ai_generated"},
        {"written": "ai_generated", "order": "newest"},
    ):
        assert shown_post_ids(client.get(url, query)) == [first.pk], query
