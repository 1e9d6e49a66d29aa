"""/search/: replies found by their words, with the thread's reader filters."""

from collections.abc import Sequence
from functools import cached_property

from django.shortcuts import render
from django.views.decorators.http import require_safe

from .. import limits, search
from ..forms import SearchForm
from ..http import too_many_requests
from ..models import Post
from .base import paginate

TEMPLATE = "forum/search.html"


class Results(Sequence):
    """A search's hits as Paginator reads them: the count is one query, a
    page's slice another, each asked of the engine once."""

    def __init__(self, terms: list[str], scope: search.Scope, *, newest: bool):
        self.terms, self.scope, self.newest = terms, scope, newest
        self.engine = search.engine()

    @cached_property
    def total(self) -> int:
        return self.engine.count(self.terms, self.scope)

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


@require_safe
def search_page(request):
    """Search replies; an empty query shows the form, a bad one a 400 with it."""
    form = SearchForm(request.GET)
    context = {"form": form, "page": None, "results": []}
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
    posts = {
        post.pk: post
        for post in Post.objects.filter(pk__in=[hit.post_id for hit in hits])
        .select_related("topic", "author")
        .prefetch_related("stances", "conflict_parties", "topic__parties")
    }
    # A reply hidden since the page was counted is left out, never shown.
    context["results"] = [
        (posts[hit.post_id], hit.excerpt)
        for hit in hits
        if hit.post_id in posts and not posts[hit.post_id].is_hidden
    ]
    context["page"] = page
    return render(request, TEMPLATE, context)
