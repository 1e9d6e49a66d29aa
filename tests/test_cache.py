"""Anonymous readers get cached pages that any change to the topic invalidates."""

import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.http import HttpResponse
from django.test import Client

from forum import caching, services
from forum.caching import is_shareable
from forum.models import Post, PostStatus, Topic

from .factories import edit_post, make_post, make_user

CACHED_PAGE_QUERIES = 1  # the topic's stamp, to revalidate


@pytest.fixture
def thread(topic):
    make_post(topic=topic, body="The first reply.")
    return f"/t/{topic.slug}/"


def test_second_anonymous_visit_is_served_from_cache_with_one_query(
    client, thread, django_assert_max_num_queries
):
    first = client.get(thread)

    with django_assert_max_num_queries(CACHED_PAGE_QUERIES) as ctx:
        second = client.get(thread)

    assert len(ctx) == CACHED_PAGE_QUERIES
    assert second.status_code == 200
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert second["Last-Modified"] == first["Last-Modified"]
    assert "must-revalidate" in second["Cache-Control"]
    assert "Cookie" in second["Vary"]


def test_unchanged_page_answers_304_to_etag_and_to_last_modified(client, thread):
    first = client.get(thread)

    by_etag = client.get(thread, headers={"if-none-match": first["ETag"]})
    by_date = client.get(thread, headers={"if-modified-since": first["Last-Modified"]})

    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_date.status_code == 304


def test_a_reply_invalidates_the_cached_thread_and_list(client, topic, thread):
    before = client.get(thread)
    listing = client.get("/")
    assert b"1 reply" in listing.content

    make_post(topic=topic, body="A brand new reply.")

    after = client.get(thread, headers={"if-none-match": before["ETag"]})
    assert after.status_code == 200
    assert b"A brand new reply." in after.content
    assert after["ETag"] != before["ETag"]
    assert b"2 replies" in client.get("/").content


def test_moderator_actions_in_the_admin_invalidate_the_cached_thread(
    client, admin_client, topic, thread
):
    post = Post.objects.get(topic=topic)
    assert b"The first reply." in client.get(thread).content

    admin_client.post(
        "/admin/forum/post/",
        {"action": "hide_posts", "_selected_action": [post.pk], "reason": "Spam."},
    )
    assert b"The first reply." not in client.get(thread).content
    assert b"Hidden by moderators: Spam." in client.get(thread).content

    admin_client.post(
        "/admin/forum/topic/",
        {"action": "lock_topics", "_selected_action": [topic.pk], "reason": "Done."},
    )
    assert b"This topic is locked" in client.get(thread).content


def test_moderator_edit_invalidates_the_cached_thread(client, topic, thread, moderator):
    post = Post.objects.get(topic=topic)
    client.get(thread)

    edit_post(post, editor=moderator, reason="Tidied.", body="Edited by a moderator.")

    assert b"Edited by a moderator." in client.get(thread).content


def test_signed_in_readers_get_fresh_pages_never_the_anonymous_copy(
    client, topic, thread
):
    client.get(thread)  # fills the anonymous cache
    reader = make_user(username="fresh-reader")
    signed_in = Client()
    signed_in.force_login(reader)

    response = signed_in.get(thread)

    assert b"fresh-reader" in response.content
    assert "ETag" not in response
    # Their page is rebuilt around fragments of the same topic version, so a
    # reply is there at once for them too.
    make_post(topic=topic, body="Posted a moment ago.")
    assert b"Posted a moment ago." in signed_in.get(thread).content


def test_signed_in_page_reuses_shared_fragments_with_few_queries(
    topic, thread, django_assert_max_num_queries
):
    """Session, user, the topic row, the reader's disclosure defaults, their
    unread count with their place in the topic, and (a first visit) that
    place recorded; the replies and the form come from the cache."""
    readers = [make_user(), make_user()]
    first, second = Client(), Client()
    first.force_login(readers[0])
    second.force_login(readers[1])
    first.get(thread)

    with django_assert_max_num_queries(6) as ctx:
        response = second.get(thread)

    assert len(ctx) == 6
    assert b"The first reply." in response.content
    assert readers[1].username.encode() in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_each_query_string_is_cached_on_its_own(client, topic, settings):
    settings.STANDPOINT_POSTS_PER_PAGE = 1
    make_post(topic=topic, body="Reply on page one.")
    make_post(topic=topic, body="Reply on page two.")
    url = f"/t/{topic.slug}/"

    client.get(url)
    page_two = client.get(url + "?page=2")

    assert b"Reply on page two." in page_two.content
    assert b"Reply on page one." not in page_two.content


def test_rejected_filter_stays_a_400_with_its_message_when_asked_again(client, topic):
    url = f"/t/{topic.slug}/?stance=no-such-stance"
    first = client.get(url)
    again = client.get(url)

    for response in (first, again):
        assert response.status_code == 400
        assert b"There is no such stance in this topic." in response.content
        assert "ETag" not in response  # whole pages are cached only when they are 200


@pytest.mark.parametrize("spelling", ["?page=1&", "?page=1&&", "?pag%65=1"])
def test_spellings_of_one_query_share_its_cache_entry(
    client, thread, spelling, django_assert_max_num_queries
):
    """Endless harmless spellings of one page must not each take a place in the cache."""
    first = client.get(thread + "?page=1")

    with django_assert_max_num_queries(CACHED_PAGE_QUERIES) as ctx:
        again = client.get(thread + spelling)

    assert len(ctx) == CACHED_PAGE_QUERIES
    assert again.status_code == 200
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]


def test_rejected_filter_is_rendered_anew_each_time_never_stored(
    client, topic, thread, django_assert_max_num_queries
):
    """Endless bad filters must not each take a place in the cache."""
    client.get(f"/t/{topic.slug}/")  # the stance map, shared by every filter, is kept
    url = f"/t/{topic.slug}/?stance=no-such-stance"
    with django_assert_max_num_queries(20) as first_ctx:
        first = client.get(url)

    with django_assert_max_num_queries(20) as again_ctx:
        again = client.get(url)

    assert len(again_ctx) == len(first_ctx) > CACHED_PAGE_QUERIES
    for response in (first, again):
        assert response.status_code == 400
        assert b"There is no such stance in this topic." in response.content


def test_unknown_topic_is_404_without_rendering(client, db):
    assert client.get("/t/no-such-topic/").status_code == 404


def test_hidden_post_status_change_outside_services_waits_for_the_stamp(
    client, topic, thread
):
    """Only writes through services move the stamp: the reason they are the only writers."""
    client.get(thread)
    Post.objects.filter(topic=topic).update(
        status=PostStatus.HIDDEN, hidden_reason="Spam."
    )
    assert b"The first reply." in client.get(thread).content

    services.tallies_recount(topic_ids=[topic.pk], fix=True)

    assert b"The first reply." not in client.get(thread).content
    assert Topic.objects.get(pk=topic.pk).reply_count == 0


def test_gzip_copy_is_served_to_clients_that_accept_it(client, thread):
    plain = client.get(thread)
    zipped = client.get(thread, headers={"accept-encoding": "gzip, deflate, br"})

    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert "Accept-Encoding" in zipped["Vary"]
    assert zipped["ETag"] != plain["ETag"]  # two representations, two tags
    again = client.get(
        thread,
        headers={"accept-encoding": "gzip", "if-none-match": zipped["ETag"]},
    )
    assert again.status_code == 304


def test_plain_sql_stamps_read_what_the_orm_reads(topic):
    """The stamps skip the ORM for speed; they must agree with it on every backend."""
    topic.refresh_from_db()
    make_post(topic=topic)
    fresh = Topic.objects.get(pk=topic.pk)

    assert Topic.objects.stamp(topic.slug) == (topic.pk, fresh.updated)
    assert Topic.objects.stamp("no-such-topic") is None
    assert Topic.objects.list_stamp() == (1, fresh.updated)


def test_unknown_query_parameters_are_served_but_never_stored(
    client, thread, django_assert_max_num_queries
):
    """`?x=<random>` must not fill the cache or push real pages out of it."""
    client.get(thread + "?utm_source=mail")

    with django_assert_max_num_queries(20) as ctx:
        again = client.get(thread + "?utm_source=mail")

    assert again.status_code == 200
    assert b"The first reply." in again.content
    assert len(ctx) > CACHED_PAGE_QUERIES


def test_a_page_that_carries_a_reader_secret_is_never_stored(rf):
    """A CSRF token, a cookie or a shown message belongs to one reader only."""
    ok = HttpResponse("page")
    with_cookie = HttpResponse("page")
    with_cookie.set_cookie("x", "1")
    token_request = rf.get("/")
    token_request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True

    assert is_shareable(rf.get("/"), ok)
    assert not is_shareable(rf.get("/"), with_cookie)
    assert not is_shareable(token_request, ok)
    assert not is_shareable(rf.get("/"), HttpResponse("gone", status=404))


def test_a_moderators_reason_reaches_a_cached_tombstone(client, topic, moderator):
    """Upholding reports on a post the threshold hid changes only its reason: still a change."""
    post = make_post(topic=topic)
    for _ in range(3):
        services.report_create(post=post, reporter=make_user(), reason="spam")
    assert b"Hidden automatically" in client.get(topic.get_absolute_url()).content

    services.reports_resolve(
        posts=Post.objects.filter(pk=post.pk),
        outcome="post_hidden",
        actor=moderator,
        reason="Spam for watches.",
    )

    page = client.get(topic.get_absolute_url()).content
    assert b"Hidden by moderators: Spam for watches." in page


def test_readers_missing_one_fragment_at_once_wait_for_a_single_render():
    """No thundering herd: eight threads that miss the same new version get the
    one render the first of them makes; another version renders on its own."""
    renders = []
    start = threading.Barrier(8)

    def render():
        renders.append(threading.get_ident())
        time.sleep(0.2)  # long enough for every thread to arrive while it runs
        return "<p>the thread body</p>"

    def read():
        start.wait()
        return caching.fragment(("thread", "topic-1:v2"), render)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: read(), range(8)))

    assert results == ["<p>the thread body</p>"] * 8
    assert len(renders) == 1
    caching.fragment(("thread", "topic-1:v3"), render)
    assert len(renders) == 2


def test_a_failed_render_is_not_shared_the_next_reader_renders_again():
    calls = []

    def failing():
        calls.append("failed")
        raise RuntimeError("template error")

    with pytest.raises(RuntimeError):
        caching.fragment(("thread", "topic-1:v9"), failing)
    assert caching.fragment(("thread", "topic-1:v9"), lambda: "ok") == "ok"
    assert calls == ["failed"]
