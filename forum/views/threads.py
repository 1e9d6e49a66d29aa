"""The topic list, the thread page and a post's permalink.

A thread page is put together like this, from the URL to the bytes
(docs/architecture.md draws it):

1. `thread_view` reads the topic's stamp with one small query (its id,
   `updated`, `revised` and reply count) and works out what the URL shows:
   its filters (cached per topic revision and query), its count (the thread's,
   or a sum of stored tallies) and so its pages. A full page of replies older
   than the newest ones is versioned on `revised`, which a new reply does not
   move: it stays cached while people post. The pages a new reply changes (the
   first page with its stance map, the page that holds the newest replies) are
   versioned on `updated`.
2. The page is rendered once per version and URL as a reader with no account
   sees it and stored gzipped (`caching.stored_page`, one render at a time per
   process). An anonymous reader gets those bytes, or a 304.
3. A signed-in reader gets the same page inflated, with their account links,
   messages, reply form and Edit links spliced in (forum.sharing): no page
   rendering per reader. Staff share a rendering of their own, which shows
   hidden replies.
4. Inside a rendering, each reply is a ready piece stored beside it
   (forum.pieces), and the article's stance map is a fragment per topic
   version shared by every page and filter.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import F, Window
from django.db.models.functions import Mod, RowNumber
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from .. import records, services, sharing, stancemap
from ..caching import (
    cacheable,
    cached_for_anonymous,
    digest,
    fragment,
    inflate,
    serve_cached,
    stored_page,
)
from ..forms import PostForm, ThreadFilterForm
from ..models import (
    DisclosureDefaults,
    PageStamp,
    Post,
    Topic,
    TopicReader,
    TopicTallies,
    WatchLevel,
)
from ..pieces import Reader, reply_pieces, topic_parts
from ..services import notifications
from .base import per_page

THREAD_PARAMS = frozenset({"page", "stance", "authorship", "written", "ties", "order"})


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
    marks = {}
    if request.user.is_authenticated:
        marks = notifications.read_marks(request.user, [t.pk for t in topics])
    for topic in topics:
        topic.stance_map = maps[topic.pk]
        # As the thread counts them: every reply numbered after the mark.
        last, shown = marks.get(topic.pk), topic.reply_count + topic.hidden_count
        if last and last < shown:
            topic.new_replies = shown - last
            topic.new_url = unread_url(topic.slug, last + 1)
    return render(request, "forum/topic_list.html", {"topics": topics})


def topic_version(pk: int, updated: datetime) -> str:
    """What versions a thread's caches: the topic's id and last change."""
    return f"{pk}:{updated.isoformat()}"


def thread_stamp(slug: str) -> tuple[str, datetime] | None:
    found = Topic.objects.stamp(slug)
    return None if found is None else (topic_version(*found), found[1])


@dataclass(frozen=True)
class ThreadView:
    """What a thread page's URL shows, worked out from the topic's stamp alone."""

    stamp: PageStamp
    staff: bool
    valid: bool  # the filters name things that exist
    filtering: bool  # picks among replies, rather than all in some order
    newest: bool
    number: int | None  # the page asked for, None if not a plain number
    count: int | None  # replies in the view; None: counted when rendered (staff)

    @property
    def pages(self) -> int:
        return max(1, -(-(self.count or 0) // per_page()))

    @property
    def run(self) -> int | None:
        """Which run of replies, counted from the oldest, the page shows.

        Page boundaries are fixed from the thread's first reply, in both orders,
        so a new reply changes only the newest run (newest first, page 1 holds
        it, 1 to 20 replies): a page's link shows the same replies tomorrow, and
        reading on while people post never shows a reply twice.
        """
        if self.number is None or not 1 <= self.number <= self.pages:
            return None
        return self.pages - self.number + 1 if self.newest else self.number

    @property
    def stable(self) -> bool:
        """A full run older than the newest, outside the article's page: a new
        reply leaves it as it is, so it is versioned on the topic's `revised`."""
        return (
            self.valid
            and not self.staff
            and self.count is not None
            and self.run is not None
            and self.run < self.pages
            and (self.filtering or self.number > 1)
        )

    @property
    def version(self) -> str:
        """What the page is keyed on: what it shows, so that a new reply
        changes the key only of pages it changes.

        A full older run: the topic's revision and the view's number of pages.
        Another page of a view with a known count: the revision and the count
        (a reply this view does not pick leaves it as it is). Staff, and a
        view that must be counted: the topic's every change.
        """
        stamp, reader = self.stamp, "staff" if self.staff else "all"
        revised = stamp.revised.isoformat()
        if self.stable:
            return f"{stamp.pk}:r{revised}:p{self.pages}:{reader}"
        if self.valid and self.count is not None and not self.staff:
            return f"{stamp.pk}:r{revised}:n{self.count}:{reader}"
        return f"{stamp.pk}:u{stamp.updated.isoformat()}:{reader}"

    @property
    def counted(self) -> bool:
        """Whether the page gives the topic's reply count and latest change
        (in its JSON-LD): only pages every new reply changes anyway."""
        return not (self.stable or self.filtering)

    @property
    def last_number(self) -> int | None:
        """The newest reply number a page of the whole thread, oldest first,
        shows: how far a reader who saw it has read. None for a filtered view,
        which skips, and newest first, which starts at the end."""
        if self.filtering or self.newest or not self.valid or self.run is None:
            return None
        return min(self.run * per_page(), self.stamp.shown)

    @property
    def modified(self) -> datetime:
        """Last-Modified: no earlier than any change the page shows."""
        return self.stamp.revised if self.stable else self.stamp.updated


def thread_view(request, slug: str, stamp: PageStamp) -> ThreadView:
    staff = request.user.is_staff
    query = filter_query(request)
    # Rejected filters are read anew each time: endless bad queries must not
    # each take a place in the cache.
    valid, filtering, newest, segments = fragment(
        ("thread-view", stamp.pk, stamp.revised.isoformat(), query),
        lambda: read_filters(request, slug, stamp),
        store=cacheable(request, THREAD_PARAMS),
        keep=lambda found: found[0],
    )
    page = request.GET.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 9 else None
    if not filtering:
        count = stamp.shown
    elif staff or not valid:
        count = None  # staff filter hidden replies too, which no tally holds
    else:
        # One query per topic version for every filter view's count.
        count = topic_tallies(stamp).count(**segments)
    return ThreadView(stamp, staff, valid, filtering, newest, number, count)


def filter_query(request) -> str:
    """The query without its page: one filter view."""
    return urlencode(
        sorted((k, v) for k, v in request.GET.lists() if k != "page"), doseq=True
    )


def read_filters(
    request, slug: str, stamp: PageStamp
) -> tuple[bool, bool, bool, dict | None]:
    """(valid, filtering, newest first, tally segments) of the query's filters."""
    if not request.GET.keys() - {"page"}:  # the whole thread, oldest first
        return True, False, False, {}
    topic, _ = thread_topic(slug, stamp)
    filters = ThreadFilterForm(request.GET, topic=topic)
    if not filters.is_valid():
        return False, False, False, None
    return True, filters.is_filtering(), filters.is_newest_first(), filters.segments()


@require_safe
def topic_detail(request, slug):
    stamp = Topic.objects.page_stamp(slug)
    if stamp is None:
        raise Http404("No such topic.")
    view = thread_view(request, slug, stamp)
    shared = sharing.anonymous_copy(request)

    def render_shared() -> HttpResponse:
        return shared_page(shared, slug, view)

    if not request.user.is_authenticated:
        return serve_cached(
            request, view.version, view.modified, render_shared, params=THREAD_PARAMS
        )
    found = stored_page(shared, view.version, render_shared, params=THREAD_PARAMS)
    if isinstance(found, HttpResponse):
        html, status = found.content, found.status_code
    else:
        html, status = inflate(found[0]), 200
    unread, reader = notifications.reader_state(request.user, stamp.pk)
    holes, first_new = reader_parts(slug, stamp, reader)
    html = sharing.fill(
        request,
        html,
        reply_section=lambda: reply_section(request, slug, stamp),
        unread=unread,
        holes=holes,
        first_new=first_new,
    )
    if status == 200 and (last := view.last_number) is not None:
        notifications.read_up_to(request.user, stamp.pk, last, reader)
    return HttpResponse(html, status=status)


def unread_url(slug: str, number: int) -> str:
    """The thread page that holds reply `number`, at its "new" marker."""
    page = (number - 1) // per_page() + 1
    url = reverse("topic-detail", args=[slug])
    return f"{url}?page={page}#new" if page > 1 else f"{url}#new"


def reader_parts(
    slug: str, stamp: PageStamp, reader: TopicReader | None
) -> tuple[dict[bytes, str], int | None]:
    """A signed-in reader's watch level control and, when the thread has
    replies after the last they read, where the first is: the `<!--watch-->`
    and `<!--unread-->` holes, and the number of the reply the "new" marker
    goes before."""
    level = reader.effective_level if reader else WatchLevel.TRACKING
    context = {"slug": slug, "level": level, "csrf_token": sharing.TOKEN}
    context["levels"] = WatchLevel.choices
    watch = fragment(
        ("watch", slug, level),
        lambda: render_to_string("forum/_watch.html", context),
    )
    holes = {b"watch": watch}
    last_read = reader.last_read if reader else 0
    if not last_read or last_read >= stamp.shown:
        return holes, None
    # Reply numbers run on with no gaps, tombstones included: what came after
    # the mark is known from the stamp, with no query.
    number, count = last_read + 1, stamp.shown - last_read
    context = {"count": count, "url": unread_url(slug, number)}
    holes[b"unread"] = render_to_string("forum/_unread.html", context)
    return holes, number


def shared_page(request, slug: str, view: ThreadView) -> HttpResponse:
    """The page as every reader (or every moderator) shares it; `request` is
    the reader-free copy."""
    topic, _ = thread_topic(slug, view.stamp)
    body, status = thread_body(request, topic, view)
    context = {"topic": topic, "thread_body": body, "shared": True}
    context["locked_notice"] = services.TOPIC_LOCKED
    response = render(request, "forum/topic_detail.html", context, status=status)
    response.content = sharing.seal_holes(response.content.decode())
    return response


def reply_section(request, slug: str, stamp: PageStamp) -> str:
    """A signed-in reader's reply form, kept per reader and defaults until the
    topic is revised; its fields are shared by every reader with the same
    defaults (or none)."""
    user, defaults = request.user, services.user_defaults(request.user)
    version = (stamp.pk, stamp.revised.isoformat(), defaults and defaults.pk)

    def render_section() -> str:
        fields = fragment(
            ("reply-fields", *version),
            lambda: reply_fields(thread_topic(slug, stamp)[0], defaults),
        )
        context = {
            "reply_fields": fields,
            "topic": {"slug": slug},
            "user": user,
            "csrf_token": sharing.TOKEN,
        }
        return render_to_string("forum/_reply_section.html", context)

    return fragment(("reply-section", *version, user.pk), render_section)


def thread_topic(slug: str, stamp: PageStamp | None = None) -> tuple[Topic, str]:
    """The topic with its positions and parties, and its version.

    Kept in the cache per version: every page and filter of a thread, and
    every worker's next page after a reply, then reads one small row instead
    of the topic and its three lists. A `stamp` just read saves reading it.
    """
    found = Topic.objects.stamp(slug) if stamp is None else stamp[:2]
    if found is None:
        raise Http404("No such topic.")
    version = topic_version(*found)

    def load() -> Topic:
        topic = Topic.objects.for_thread(found[0])
        if topic is None:
            raise Http404("No such topic.")
        return topic

    return fragment(("topic", version), load), version


def thread_body(request, topic: Topic, view: ThreadView) -> tuple[str, int]:
    """The article, positions and a page of replies, as `view` shows them."""
    reader = Reader(view.staff)
    filters = ThreadFilterForm(request.GET, topic=topic)
    filtering = filters.is_filtering()
    # Unfiltered, a thread keeps hidden replies in place as tombstones, so the
    # conversation reads on, and a run is a range of reply numbers. A filter
    # picks among what the reader may read; its count is a sum of stored
    # tallies, and its runs start at reply numbers read once per revision.
    count = view.count
    if not filtering:
        replies = ThreadNumbers(topic, topic.reply_count + topic.hidden_count)
    else:
        posts = filters.filter(topic.posts.visible_to(reader))
        if count is None:
            count = posts.count()
        replies = Runs(posts, count, run_starts(request, view, posts))
    newest = filters.is_newest_first()
    page = view_page(replies, request.GET.get("page"), newest=newest)
    pieces = reply_pieces(topic, list(page.object_list), staff=view.staff)
    full = page.number == 1 and not filtering
    context = {
        "topic": topic,
        "page": page,
        "span": span(page, newest=newest),
        "stable": view.stable,
        "pieces": [html for html, _ in pieces],
        "filters": filters,
        "full": full,
        **thread_parts(request, topic, filters, full=full),
        "positions": positions_section(topic, view.stamp) if full else "",
        "jsonld": records.thread_jsonld(
            topic, [c for _, c in pieces if c], counted=view.counted
        ),
        "locked_notice": services.TOPIC_LOCKED,
    }
    html = render_to_string("forum/_thread_body.html", context, request=request)
    return html, 200 if filters.is_valid() else 400


def view_page(replies: Sequence, number: str | None, *, newest: bool) -> Page:
    """Page `number` of `replies` (oldest first): fixed runs from the oldest,
    the newest run first when `newest` (ThreadView.run)."""
    paginator = Paginator(replies, per_page())
    try:
        number = paginator.validate_number(number or 1)
        if not newest:
            return paginator.page(number)
        run = paginator.page(paginator.num_pages - number + 1)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc
    return Page(run.object_list[::-1], number, paginator)


def span(page: Page, *, newest: bool) -> tuple[int, int]:
    """Where in the view a page's replies are, counted from the oldest, in the
    order shown: (141, 160) oldest first, (160, 141) newest first."""
    size, pages = page.paginator.per_page, page.paginator.num_pages
    run = pages - page.number + 1 if newest else page.number
    first = (run - 1) * size + 1
    last = first + len(page.object_list) - 1
    return (last, first) if newest else (first, last)


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
    query = filter_query(request)
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


def positions_section(topic: Topic, stamp: PageStamp) -> str:
    """The positions with the stance map: shared by every page and filter of
    the thread while the topic's revision and tallies stay the same, and
    stored for a cold cache (stancemap.stored_section)."""
    tallies = topic_tallies(stamp)
    return fragment(
        ("positions", topic.pk, stamp.revised.isoformat(), tallies.rows),
        lambda: stancemap.stored_section(topic, tallies),
    )


def topic_tallies(stamp: PageStamp) -> TopicTallies:
    """All the topic's stored tallies: one query per topic version."""
    return fragment(
        ("tallies", stamp.pk, stamp.updated.isoformat()),
        lambda: TopicTallies.of(stamp.pk),
    )


class ThreadNumbers(Sequence):
    """A whole thread's reply ids oldest first, as Paginator reads them: a run
    is a range of reply numbers, found through the (topic, number) index at
    any depth, and the count is the topic's stored one."""

    def __init__(self, topic: Topic, count: int):
        self.topic, self.last = topic, count

    def __len__(self) -> int:
        return self.last

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(self.last)
        return Post.objects.numbered(self.topic.pk, start + 1, stop)


def run_starts(request, view: ThreadView, posts) -> list[int]:
    """The reply number each run of a filtered view starts at, oldest first.

    Read with one pass over the view per topic revision (a new reply leaves
    every run as it was but the newest, see ThreadView.run) and shared by both
    orders and every page: a page that misses the cache then seeks its run
    through the (topic, number) index, where an OFFSET at page 2,000 of a
    100,000-reply thread walked tens of thousands of rows.
    """
    size = per_page()
    query = [
        (k, v) for k, v in sorted(request.GET.lists()) if k not in ("page", "order")
    ]
    starts = (
        posts.annotate(row=Window(RowNumber(), order_by="number"))
        .annotate(edge=Mod(F("row") - 1, size))
        .filter(edge=0)
        .order_by("number")
        .values_list("number", flat=True)
    )
    return fragment(
        (
            "run-starts",
            view.stamp.pk,
            view.stamp.revised.isoformat(),
            view.staff,
            size,
            query,
        ),
        lambda: list(starts),
        store=cacheable(request, THREAD_PARAMS),
    )


class Runs(Sequence):
    """A filtered view's reply ids oldest first, as Paginator reads them: each
    slice is sought from the number its run starts at (run_starts), and a run
    newer than those read is counted on from the last one."""

    def __init__(self, posts, count: int, starts: list[int]):
        self.posts, self.count, self.starts = posts, count, starts

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(self.count)
        size, known = per_page(), len(self.starts)
        run, skip = divmod(start, size)
        if not known:  # the view was empty when its starts were read
            run, skip = -1, start
        elif run >= known:  # replies that came after the starts were read
            run, skip = known - 1, start - (known - 1) * size
        ids = self.posts.order_by("number").values_list("pk", flat=True)
        if run >= 0:
            ids = ids.filter(number__gte=self.starts[run])
        return list(ids[skip : skip + stop - start])


def reply_fields(topic: Topic, defaults: DisclosureDefaults | None) -> str:
    """The reply form's fields, pre-filled from one version of someone's defaults."""
    initial = services.defaults_initial(defaults, topic)
    form = PostForm(topic=topic, initial=initial)
    return render_to_string("forum/_reply_fields.html", {"form": form, "topic": topic})


@require_safe
def post_detail(request, pk):
    """A post's permanent address: the thread page that holds it (or its tombstone)."""
    post = get_object_or_404(Post.objects.select_related("topic"), pk=pk)
    page = (post.number - 1) // per_page() + 1
    query = f"?page={page}" if page > 1 else ""
    return redirect(f"{post.topic.get_absolute_url()}{query}#p{post.pk}")
