"""The topic list, the thread page and a post's permalink.

A thread page is put together like this, from the URL to the bytes
(docs/architecture.md draws it):

1. `cached_for_anonymous` (forum.caching) reads the topic's version, its id and
   `updated`, with one small query. An anonymous reader whose page is stored
   gets it from the cache, or a 304, and nothing below runs.
2. `topic_detail` builds the thread body (article, stance map, filters, a page
   of replies and their JSON-LD) through `fragment()`: one cached copy per
   topic version, page, filters and staff-or-not, shared by every reader.
   Inside it, the positions section with the stance map is a fragment of its
   own, one per topic version, shared by every page and filter.
3. Nothing of one reader may be in the shared body, so each reply leaves an
   HTML comment, `<!--edit <post> <author>-->`, where an Edit link may go.
   `edit_links` fills those holes for this reader, or removes them. The body
   was rendered with autoescape on, so the page includes it with `|safe`.
4. A signed-in reader also gets the reply form. Its fields are a fragment per
   topic version and per version of the reader's disclosure defaults; its
   CSRF token is rendered outside the fragment (`_reply_form.html`).
5. `topic_detail.html` puts these in the layout; for anonymous readers step 1
   stores the page, with a gzip copy.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from .. import records, services, stancemap
from ..caching import (
    cacheable,
    cached_for_anonymous,
    canonical_path,
    digest,
    fragment,
)
from ..forms import PostForm, ThreadFilterForm
from ..models import DisclosureDefaults, Post, Topic, tallied_count
from ..pieces import reply_pieces, topic_parts
from .base import paginate, per_page

THREAD_PARAMS = frozenset({"page", "stance", "authorship", "written", "ties", "order"})
EDIT_HOLE = re.compile(r"<!--edit (\d+) (\d+)-->")


def list_stamp() -> tuple[str, datetime]:
    """What versions the topic list: how many topics, and the latest change."""
    count, latest = Topic.objects.list_stamp()
    latest = latest or datetime.fromtimestamp(0, tz=UTC)
    return f"{count}:{latest.isoformat()}", latest


@require_safe
@cached_for_anonymous(list_stamp)
def topic_list(request):
    topics = list(Topic.objects.for_list_page())
    maps = stancemap.for_topics(topics)
    for topic in topics:
        topic.stance_map = maps[topic.pk]
    return render(request, "forum/topic_list.html", {"topics": topics})


def topic_version(pk: int, updated: datetime) -> str:
    """What versions a thread's caches: the topic's id and last change."""
    return f"{pk}:{updated.isoformat()}"


def thread_stamp(slug: str) -> tuple[str, datetime] | None:
    found = Topic.objects.stamp(slug)
    return None if found is None else (topic_version(*found), found[1])


@require_safe
@cached_for_anonymous(thread_stamp, params=THREAD_PARAMS)
def topic_detail(request, slug):
    topic, version = thread_topic(slug)
    body, status = fragment(
        ("thread", version, canonical_path(request), request.user.is_staff),
        lambda: thread_body(request, topic),
        store=cacheable(request, THREAD_PARAMS),
        keep=lambda rendered: rendered[1] == 200,  # a bad filter's 400 is not kept
    )
    context = {
        "topic": topic,
        "thread_body": edit_links(body, request.user, topic),
        "reply_fields": None,
        "locked_notice": services.TOPIC_LOCKED,
    }
    if request.user.is_authenticated and not topic.is_locked:
        # The form is shared by every reader with the same defaults (or none).
        defaults = services.user_defaults(request.user)
        context["reply_fields"] = fragment(
            ("reply-fields", version, defaults and defaults.pk),
            lambda: reply_fields(topic, defaults),
        )
    return render(request, "forum/topic_detail.html", context, status=status)


def thread_topic(slug: str) -> tuple[Topic, str]:
    """The topic with its positions and parties, and its version.

    Kept in the cache per version: every page and filter of a thread, and
    every worker's next page after a reply, then reads one small row instead
    of the topic and its three lists.
    """
    found = Topic.objects.stamp(slug)
    if found is None:
        raise Http404("No such topic.")
    version = topic_version(*found)

    def load() -> Topic:
        topic = get_object_or_404(Topic, pk=found[0])
        prefetch_related_objects([topic], *Topic.thread_prefetch())
        return topic

    return fragment(("topic", version), load), version


def thread_body(request, topic: Topic) -> tuple[str, int]:
    """The article, positions and a page of replies: the same for every non-staff reader."""
    filters = ThreadFilterForm(request.GET, topic=topic)
    newest = filters.is_newest_first()
    filtering = filters.is_filtering()
    # Unfiltered, a thread keeps hidden replies in place as tombstones, so the
    # conversation reads on, and a page is a range of reply numbers. A filter
    # picks among what the reader may read; its count is a sum of stored
    # tallies, and its page is found by ids first, so the OFFSET walks an
    # index alone.
    if not filtering:
        replies, count = ThreadNumbers(topic, newest=newest), None
    else:
        posts = topic.posts.newest_first() if newest else topic.posts.in_thread_order()
        replies = filters.filter(posts.visible_to(request.user))
        replies = replies.values_list("pk", flat=True)
        # Staff filter hidden replies too, which no tally holds: they count.
        if not request.user.is_staff:
            count = tallied_count(topic, **filters.segments())
        else:
            count = None
    page = paginate(replies, request.GET.get("page"), count=count)
    pieces = reply_pieces(topic, list(page.object_list), staff=request.user.is_staff)
    full = page.number == 1 and not filtering
    context = {
        "topic": topic,
        "page": page,
        "pieces": [html for html, _ in pieces],
        "filters": filters,
        "full": full,
        **thread_parts(request, topic, filters, full=full),
        "positions": positions_section(topic) if full else "",
        "jsonld": records.thread_jsonld(topic, [c for _, c in pieces if c]),
        "locked_notice": services.TOPIC_LOCKED,
    }
    html = render_to_string("forum/_thread_body.html", context, request=request)
    return html, 200 if filters.is_valid() else 400


def thread_parts(
    request, topic: Topic, filters: ThreadFilterForm, *, full: bool
) -> dict:
    """The compact header, the filter links and the filters in use.

    They change with the topic's parts (its title, disclosure, positions, the
    lock) and the query, not with each reply: kept in the cache on those, a
    page that misses the page cache after a new reply renders none of them.
    """
    head = topic_head(topic)
    parts = {"compact_header": ""}
    if not full:
        parts["compact_header"] = fragment(
            ("compact-header", head),
            lambda: render_to_string(
                "forum/_compact_header.html",
                {"topic": topic, "locked_notice": services.TOPIC_LOCKED},
            ),
        )
    query = urlencode(
        sorted((k, v) for k, v in request.GET.lists() if k != "page"), doseq=True
    )
    context = {"topic": topic, "filters": filters}
    nav, active = fragment(
        ("filter-links", head, query),
        lambda: (
            render_to_string("forum/_filters.html", context, request=request),
            render_to_string("forum/_active_filters.html", context, request=request),
        ),
        store=filters.is_valid() and cacheable(request, THREAD_PARAMS),
    )
    return parts | {"filter_nav": nav, "active_filters": active}


def topic_head(topic: Topic) -> str:
    """What the compact header and the filter links show of a topic."""
    disclosure = records.disclosure_record(topic)
    return digest(topic_parts(topic), topic.title, sorted(disclosure.items()))


def positions_section(topic: Topic) -> str:
    """The positions with the stance map: one grouped query per topic version,
    shared by every page and filter of the thread."""
    return fragment(
        ("positions", topic_version(topic.pk, topic.updated)),
        lambda: render_to_string(
            "forum/_positions.html",
            {"topic": topic, "map": stancemap.for_topic(topic)},
        ),
    )


class ThreadNumbers(Sequence):
    """A whole thread's reply ids in order, as Paginator reads them: a page is
    a range of reply numbers, found through the (topic, number) index at any
    depth, and the count is the topic's stored one."""

    def __init__(self, topic: Topic, *, newest: bool):
        self.topic, self.newest = topic, newest
        self.last = topic.reply_count + topic.hidden_count

    def __len__(self) -> int:
        return self.last

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(self.last)
        if self.newest:
            low, high = self.last - stop + 1, self.last - start
        else:
            low, high = start + 1, stop
        shown = self.topic.posts.filter(number__range=(low, high))
        order = "-number" if self.newest else "number"
        return list(shown.order_by(order).values_list("pk", flat=True))


def reply_fields(topic: Topic, defaults: DisclosureDefaults | None) -> str:
    """The reply form's fields, pre-filled from one version of someone's defaults."""
    initial = services.defaults_initial(defaults, topic)
    form = PostForm(topic=topic, initial=initial)
    return render_to_string("forum/_reply_fields.html", {"form": form, "topic": topic})


def edit_links(body: str, user, topic: Topic) -> str:
    """Fill the shared thread body's holes with Edit links where `user` may edit.

    Each post leaves a comment naming itself and its author; this puts the
    reader's own links in, with no query, or takes the holes out.
    """
    if not user.is_authenticated:
        return EDIT_HOLE.sub("", body)

    # One reverse() for all: a page of a reader's own replies has twenty links.
    url = reverse("post-edit", args=[0]).replace("/0/", "/{}/")

    # Read once: `user` is a lazy object, each attribute a detour.
    staff, me, locked = user.is_staff, user.pk, topic.is_locked

    def link(match) -> str:
        pk, author = int(match[1]), int(match[2])
        if staff or (author == me and not locked):
            return f'<a class="edit-link" href="{url.format(pk)}">Edit</a>'
        return ""

    return EDIT_HOLE.sub(link, body)


@require_safe
def post_detail(request, pk):
    """A post's permanent address: the thread page that holds it (or its tombstone)."""
    post = get_object_or_404(Post.objects.select_related("topic"), pk=pk)
    page = (post.number - 1) // per_page() + 1
    query = f"?page={page}" if page > 1 else ""
    return redirect(f"{post.topic.get_absolute_url()}{query}#p{post.pk}")
