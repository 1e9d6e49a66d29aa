"""/search/: replies found by their words, with the thread's reader filters."""

from collections.abc import Sequence
from functools import cache, cached_property

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from .. import limits, search
from ..forms import SearchForm
from ..http import too_many_requests
from ..models import Post, Topic
from ..opendata import post_url, with_links
from .base import paginate

TEMPLATE = "forum/search.html"


class Results(Sequence):
    """A search's hits as Paginator reads them: the count is one query, a
    page's slice another, each asked of the engine once."""

    def __init__(self, terms: list[str], scope: search.Scope, *, newest: bool):
        self.terms, self.scope, self.newest = terms, scope, newest
        self.engine = search.engine()

    @cached_property
    def found(self) -> int:
        """How many matched, up to one past search.COUNTED."""
        return self.engine.count(self.terms, self.scope)

    @cached_property
    def total(self) -> int:
        """What the pages go through: the first COUNTED at most."""
        return min(self.found, search.COUNTED)

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        return self.engine.page(
            self.terms,
            self.scope,
            newest=self.newest,
            offset=start,
            limit=max(stop - start, 0),
        )


@cache
def _topic_url() -> str:
    return reverse("topic-detail", args=["slug0"]).replace("/slug0/", "/{}/")


def reverse_cached_topic(slug: str) -> str:
    return _topic_url().format(slug)


def strip_ready(posts) -> list[Post]:
    """`posts` with what a result shows: their links (opendata.with_links) and
    their addresses, formatted rather than reversed sixty times a page."""
    posts = with_links(list(posts))
    for post in posts:
        post.url = post_url("post-detail", post.pk)
        post.topic.url = reverse_cached_topic(post.topic.slug)
    return posts


@require_safe
def search_page(request):
    """Search replies; an empty query shows the form, a bad one a 400 with it."""
    form = SearchForm(request.GET)
    context = {
        "form": form,
        "page": None,
        "results": [],
        "topics": Topic.objects.values_list("slug", "title"),
        "choices": {
            name: form.fields[name].choices for name in ("written", "ties", "sort")
        },
        # What the reader chose, as typed: the form comes back as they left it.
        "chosen": {
            name: request.GET.get(name, "")
            for name in ("topic", "written", "ties", "sort")
        },
    }
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    terms = search.words(form.cleaned_data["q"])
    context["searched"] = bool(form.cleaned_data["q"])
    if not terms:
        return render(request, TEMPLATE, context)
    try:
        limits.take("search", limits.client_key(request))
    except limits.Limited as exc:
        return too_many_requests(
            request, retry_after=exc.retry_after, template=TEMPLATE, context=context
        )
    found = Results(terms, form.scope(), newest=form.cleaned_data["sort"] == "newest")
    page = paginate(found, request.GET.get("page"))
    hits = list(page.object_list)
    # The text shown is the engine's excerpt: the bodies stay in the database.
    rows = Post.objects.filter(pk__in=[hit.post_id for hit in hits]).defer(
        "body", "body_html"
    )
    posts = {
        post.pk: post
        for post in strip_ready(rows.select_related("topic", "author__agent__operator"))
    }
    # A reply hidden since the page was counted is left out, never shown.
    context["results"] = [
        (posts[hit.post_id], hit.excerpt)
        for hit in hits
        if hit.post_id in posts and not posts[hit.post_id].is_hidden
    ]
    context["page"] = page
    context["more"] = found.found > search.COUNTED
    return render(request, TEMPLATE, context)
