"""Pages: read without an account, sign up to post. Views fetch, validate, call one service."""

import logging
import sys
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.db import DatabaseError, connection
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from . import services
from .caching import cacheable, cached_for_anonymous, fragment
from .forms import PostForm, SignupForm, ThreadFilterForm
from .http import service_unavailable
from .middleware import is_database_busy
from .models import Post, Topic

logger = logging.getLogger(__name__)


def per_page() -> int:
    return settings.STANDPOINT_POSTS_PER_PAGE


def list_stamp() -> tuple[str, datetime]:
    count, latest = Topic.objects.list_stamp()
    latest = latest or datetime.fromtimestamp(0, tz=UTC)
    return f"{count}:{latest.isoformat()}", latest


def paginate(items, number: str | None, *, count: int | None = None):
    """The page `number` of `items`; a known `count` saves counting the rows."""
    paginator = Paginator(items, per_page())
    if count is not None:
        paginator.count = count  # Paginator.count is a cached_property.
    try:
        return paginator.page(number or 1)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc


@require_safe
@cached_for_anonymous(list_stamp)
def topic_list(request):
    topics = Topic.objects.for_list_page()
    return render(request, "forum/topic_list.html", {"topics": topics})


def topic_version(pk: int, updated: datetime) -> str:
    """What versions a thread's caches: the topic's id and last change."""
    return f"{pk}:{updated.isoformat()}"


def thread_stamp(slug: str) -> tuple[str, datetime] | None:
    found = Topic.objects.stamp(slug)
    return None if found is None else (topic_version(*found), found[1])


THREAD_PARAMS = frozenset({"page", "stance", "authorship"})


@require_safe
@cached_for_anonymous(thread_stamp, params=THREAD_PARAMS)
def topic_detail(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    version = topic_version(topic.pk, topic.updated)
    body, status = fragment(
        ("thread", version, request.get_full_path(), request.user.is_staff),
        lambda: thread_body(request, topic),
        store=cacheable(request, THREAD_PARAMS),
    )
    context = {"topic": topic, "thread_body": body, "reply_fields": None}
    if request.user.is_authenticated and not topic.is_locked:
        context["reply_fields"] = fragment(
            ("reply-fields", version),
            lambda: render_to_string(
                "forum/_reply_fields.html", {"form": PostForm(topic=topic)}
            ),
        )
    return render(request, "forum/topic_detail.html", context, status=status)


def thread_body(request, topic: Topic) -> tuple[str, int]:
    """The article, positions and a page of replies: the same for every non-staff reader."""
    prefetch_related_objects([topic], *Topic.THREAD_PREFETCH)
    filters = ThreadFilterForm(request.GET, topic=topic)
    posts = topic.posts.visible_to(request.user).in_thread_order()
    if filters.is_valid():
        posts = filters.filter(posts)
    # Everyone else sees exactly the published replies the stored count counts.
    known = not (request.user.is_staff or filters.is_filtering())
    # Page by ids first: a deep page's OFFSET then walks the index alone, and
    # only the twenty rows shown are joined and prefetched.
    page = paginate(
        posts.values_list("pk", flat=True),
        request.GET.get("page"),
        count=topic.reply_count if known else None,
    )
    page.object_list = topic.posts.for_thread_page().in_order_of(page.object_list)
    context = {"topic": topic, "page": page, "filters": filters}
    html = render_to_string("forum/_thread_body.html", context, request=request)
    return html, 200 if filters.is_valid() else 400


@login_required
@require_http_methods(["GET", "POST"])
def post_create(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    parent = request.GET.get("parent", "")
    initial = {"parent": parent} if parent.isascii() and parent.isdigit() else {}
    form = PostForm(request.POST or None, topic=topic, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            post = services.post_create(
                topic=topic, author=request.user, body=form.cleaned_data["body"],
                stances=form.cleaned_data["stances"], tags=form.cleaned_data["tags"],
                parent=form.cleaned_data["parent"], attested=form.cleaned_data["attest"],
                **form.disclosure(),
            )  # fmt: skip
            return redirect(post)
        except ValidationError as exc:
            form.add_error(None, exc)
    locked = topic.is_locked or form.has_error(NON_FIELD_ERRORS, "topic_locked")
    context = {"topic": topic, "form": form, "locked": locked}
    return render(
        request, "forum/post_form.html", context, status=403 if locked else 200
    )


@require_safe
def post_detail(request, pk):
    """A post's permanent address: the thread page that holds it, scrolled to it."""
    visible = Post.objects.visible_to(request.user)
    post = get_object_or_404(visible.select_related("topic"), pk=pk)
    ahead = visible.for_topic(post.topic).before(post).count()
    page = ahead // per_page() + 1
    query = f"?page={page}" if page > 1 else ""
    return redirect(f"{post.topic.get_absolute_url()}{query}#p{post.pk}")


@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, {request.get_host()}, request.is_secure()
    ):
        next_url = ""
    form = SignupForm(request.POST or None)
    if form.is_bound and form.is_valid():
        user = services.user_signup(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_url or "topic-list")
    context = {"form": form, "next": next_url}
    return render(request, "registration/signup.html", context)


@require_safe
@never_cache
def healthz(request):
    """For load balancers: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database did not answer")
        return HttpResponse(
            "database unavailable", status=503, content_type="text/plain"
        )
    return HttpResponse("ok", content_type="text/plain")


def server_error(request):
    """handler500: lock contention met after the view (a session save) still gets 503."""
    if is_database_busy(sys.exc_info()[1]):
        return service_unavailable()
    return defaults.server_error(request)
