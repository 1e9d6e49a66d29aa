"""Atom feeds that carry where each reply stands and who or what wrote it.

/feeds/latest.atom (every topic), /t/<slug>/feed.atom (one debate, with the
thread's reader filters) and /moderation/feed.atom (the public log). Each
reply's entry has its stances as categories (with a scheme: the topic's
positions) and its disclosure twice: in words, as the strip says it, in the
entry's text, and as elements in our namespace, with a `describedby` link to
its disclosure.json. Hidden replies are left out. Every feed is cached per
topic version like the pages, with ETag and Last-Modified.
"""

from django.contrib.syndication.views import Feed
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.views.decorators.http import require_safe

from . import records
from .caching import serve_cached
from .forms import ThreadFilterForm
from .models import ModerationAction, Post, Topic
from .opendata import with_links
from .records import NAMESPACE
from .views.records import moderation_stamp
from .views.threads import THREAD_PARAMS, list_stamp, thread_stamp

ENTRIES = 50
PREFIX = "sp"


class DisclosureAtom(Atom1Feed):
    """Atom 1.0 with stance categories, disclosure elements and links."""

    def root_attributes(self):
        return {**super().root_attributes(), f"xmlns:{PREFIX}": NAMESPACE}

    def add_root_elements(self, handler):
        super().add_root_elements(handler)
        article = self.feed.get("article")
        if article is not None:
            handler.startElement(f"{PREFIX}:article", {})
            write_disclosure(handler, article)
            handler.endElement(f"{PREFIX}:article")

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        for term, label, scheme in item.get("stances", ()):
            handler.addQuickElement(
                "category", "", {"term": term, "label": label, "scheme": scheme}
            )
        if item.get("describedby"):
            handler.addQuickElement(
                "link",
                "",
                {
                    "rel": "describedby",
                    "href": item["describedby"],
                    "type": "application/json",
                },
            )
        if item.get("disclosure") is not None:
            write_disclosure(handler, item["disclosure"])


def write_disclosure(handler, disclosure) -> None:
    """The disclosure as elements: what a program reads without parsing words."""
    party = disclosure.maker_party
    values = [
        ("authorship", disclosure.authorship),
        ("ai_model", disclosure.ai_model),
        ("ai_maker", disclosure.ai_maker),
        ("ai_maker_is_party", "true" if party else "false"),
        ("ai_maker_party", party.name if party else ""),
        ("affiliation", disclosure.affiliation),
        ("paid", disclosure.paid),
        ("paid_by", disclosure.paid_by),
        ("conflict", disclosure.conflict),
        ("conflict_parties", ", ".join(disclosure.conflict_party_names)),
        ("conflict_details", disclosure.conflict_details),
    ]
    if hasattr(disclosure, "review_state"):
        values.append(("review_state", disclosure.review_state))
    for name, value in values:
        handler.addQuickElement(f"{PREFIX}:{name}", value)


class RepliesFeed(Feed):
    """Replies, newest first, each with its stances and disclosure."""

    feed_type = DisclosureAtom

    def item_title(self, post: Post) -> str:
        stances = "; ".join(stance.name for stance in post.stances.all())
        return f"{records.byline(post)} in “{post.topic.title}”" + (
            f" ({stances})" if stances else ""
        )

    def item_description(self, post: Post) -> str:
        return f"<p>{escape(post.strip_words)}</p>\n{post.body_html}"

    def item_link(self, post: Post) -> str:
        return post.get_absolute_url()

    def item_guid(self, post: Post) -> str:
        return self.request.build_absolute_uri(post.get_absolute_url())

    def item_author_name(self, post: Post) -> str:
        return records.byline(post)

    def item_author_link(self, post: Post) -> str:
        profile = reverse("profile", args=[post.author.get_username()])
        return self.request.build_absolute_uri(profile)

    def item_pubdate(self, post: Post):
        return post.created

    def item_updateddate(self, post: Post):
        return post.edited or post.created

    def item_extra_kwargs(self, post: Post) -> dict:
        topic_url = self.request.build_absolute_uri(post.topic.get_absolute_url())
        return {
            "stances": [
                (stance.slug, stance.name, f"{topic_url}#positions-title")
                for stance in post.stances.all()
            ],
            "describedby": self.request.build_absolute_uri(
                reverse("post-disclosure", args=[post.pk])
            ),
            "disclosure": post,
        }

    def __call__(self, request, *args, **kwargs):
        self.request = request
        return super().__call__(request, *args, **kwargs)


def replies(posts, order: str) -> list[Post]:
    """The newest published replies of `posts` with what an entry shows, in a
    fixed number of queries: authors and topics, stances, declared parties
    and the topics' parties (for the maker-is-a-party flag)."""
    found = (
        posts.published()
        .select_related("author__agent__operator", "topic")
        .order_by(order)
    )
    return with_links(list(found[:ENTRIES]))


class LatestFeed(RepliesFeed):
    title = "Standpoint: the latest replies"
    subtitle = "Every reply says where it stands and who or what wrote it."

    def link(self):
        return reverse("topic-list")

    def items(self):
        return replies(Post.objects.all(), "-pk")


class TopicFeed(RepliesFeed):
    def get_object(self, request, slug):
        return request.feed_topic

    def title(self, topic: Topic) -> str:
        return f"Standpoint: {topic.title}"

    def subtitle(self, topic: Topic) -> str:
        return f"The article's disclosure: {topic.strip_words}"

    def link(self, topic: Topic) -> str:
        return topic.get_absolute_url()

    def feed_extra_kwargs(self, topic: Topic) -> dict:
        return {"article": topic}

    def items(self, topic: Topic):
        filters = self.request.feed_filters
        posts = topic.posts.all()
        if filters.is_filtering():
            posts = filters.filter(posts)
        return replies(posts, "-number")


class ModerationFeed(Feed):
    feed_type = Atom1Feed
    title = "Standpoint: the moderation log"
    subtitle = "Every moderator action and its public reason."

    def link(self):
        return reverse("moderation-log")

    def items(self):
        return list(ModerationAction.objects.for_log_page()[:ENTRIES])

    def item_title(self, action: ModerationAction) -> str:
        return f"A moderator {action.get_action_display()}"

    def item_description(self, action: ModerationAction) -> str:
        return f"<p>Reason: {escape(action.reason)}</p>"

    def item_link(self, action: ModerationAction) -> str:
        if action.post_id:
            return reverse("post-detail", args=[action.post_id])
        if action.topic_id:
            return action.topic.get_absolute_url()
        return reverse("moderation-log")

    def item_guid(self, action: ModerationAction) -> str:
        log = f"{reverse('moderation-log')}#action-{action.pk}"
        return self.request.build_absolute_uri(log)

    def __call__(self, request, *args, **kwargs):
        self.request = request
        return super().__call__(request, *args, **kwargs)

    def item_pubdate(self, action: ModerationAction):
        return action.created


def _topic_filters(request, topic: Topic) -> ThreadFilterForm | HttpResponse:
    filters = ThreadFilterForm(request.GET, topic=topic)
    if not filters.is_valid():
        messages = [f"{name}: {errors[0]}" for name, errors in filters.errors.items()]
        return HttpResponseBadRequest(
            "; ".join(messages) + "\n", content_type="text/plain; charset=utf-8"
        )
    return filters


def _served(request, found, feed, params=frozenset()):
    if found is None:
        return HttpResponse("No such topic.\n", status=404, content_type="text/plain")
    unknown = request.GET.keys() - params
    if unknown:
        return HttpResponseBadRequest(
            f"Unknown parameter {sorted(unknown)[0]!r}.\n",
            content_type="text/plain; charset=utf-8",
        )
    version, modified = found
    return serve_cached(
        request, f"feed:{version}", modified, lambda: feed(request), params=params
    )


@require_safe
def latest_feed(request):
    return _served(request, list_stamp(), LatestFeed())


@require_safe
def topic_feed(request, slug):
    found = thread_stamp(slug)

    def feed(request):
        topic = Topic.objects.prefetch_related("parties", "conflict_parties").get(
            slug=slug
        )
        filters = _topic_filters(request, topic)
        if isinstance(filters, HttpResponse):
            return filters
        request.feed_topic, request.feed_filters = topic, filters
        return TopicFeed()(request, slug=slug)

    params = THREAD_PARAMS - {"page"}
    return _served(request, found, feed, params)


@require_safe
def moderation_feed(request):
    return _served(request, moderation_stamp(), ModerationFeed())
