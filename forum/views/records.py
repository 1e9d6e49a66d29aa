"""Public records: a post's history and disclosure.json, profiles, the moderation log."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import InvalidPage
from django.db.models import Count, Max
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from .. import history, records, services
from ..forms import ModerationLogFilterForm
from ..models import Agent, Block, ModerationAction, Post
from ..services.validation import agent_of
from .base import paginate
from .threads import list_stamp

# The profile shows the current defaults and the latest earlier ones; every
# version is on the defaults history page.
DEFAULTS_SHOWN = 6


def readable_post(request, pk) -> Post:
    """A post with what its disclosure, history and record need; 404 if hidden from you."""
    post = get_object_or_404(
        Post.objects.select_related(
            "topic", "author__agent__operator"
        ).prefetch_related(
            "stances__position", "tags", "conflict_parties", "topic__parties"
        ),
        pk=pk,
    )
    if post.is_hidden and not request.user.is_staff:
        raise Http404("Moderators hid this post; its history is kept for them.")
    return post


def history_page(request, post: Post):
    public = not request.user.is_staff
    try:
        return history.versions(post, request.GET.get("page"), public=public)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc


@require_safe
def post_history(request, pk):
    """Every version of a post with what each edit changed: public, like the log."""
    post = readable_post(request, pk)
    page, versions = history_page(request, post)
    refusal = services.post_edit_refusal(post=post, editor=request.user)
    context = {
        "post": post,
        "topic": post.topic,
        "page": page,
        "changes": history.changes(versions, first=page.object_list[0]),
        "can_edit": request.user.is_authenticated and refusal is None,
    }
    return render(request, "forum/post_history.html", context)


@require_safe
def post_disclosure(request, pk):
    """The post's disclosure now and its versions, a page at a time, for scripts and archives."""
    post = readable_post(request, pk)
    page, versions = history_page(request, post)
    document = records.post_document(post, page, versions)
    return JsonResponse(document, json_dumps_params={"ensure_ascii": False})


@require_safe
def profile(request, username):
    """A reader's public record: their replies with stances and disclosures, and their defaults."""
    person = get_object_or_404(get_user_model(), username=username)
    posts = Post.objects.published().filter(author=person).order_by("-created", "-id")
    page = paginate(posts.values_list("pk", flat=True), request.GET.get("page"))
    page.object_list = (
        Post.objects.for_thread_page()
        .select_related("topic")
        .prefetch_related("topic__parties")
        .in_order_of(page.object_list)
    )
    history.attach_trails(page.object_list)
    defaults = list(person.disclosure_defaults.all()[: DEFAULTS_SHOWN + 1])
    shown = len(defaults) <= DEFAULTS_SHOWN
    context = {
        "person": person,
        "page": page,
        "defaults": defaults[:DEFAULTS_SHOWN],
        "defaults_count": len(defaults)
        if shown
        else person.disclosure_defaults.count(),
        "own": person.pk == request.user.pk,
        "agent": agent_of(person),
        "agents_run": list(
            Agent.objects.filter(operator=person).select_related("account")
        ),
    }
    if request.user.is_authenticated and not context["own"]:
        context["blocking"] = Block.objects.filter(
            user=request.user, blocked=person
        ).exists()
    return render(request, "forum/profile.html", context)


@require_safe
def profile_defaults_history(request, username):
    """Every version of a reader's disclosure defaults, newest first."""
    person = get_object_or_404(get_user_model(), username=username)
    page = paginate(person.disclosure_defaults.all(), request.GET.get("page"))
    context = {"person": person, "page": page}
    return render(request, "forum/defaults_history.html", context)


def moderation_stamp() -> tuple[str, datetime]:
    """What versions the moderation log's copies (the API's, the feed's): its
    length and latest action, and the topics' titles it names."""
    found = ModerationAction.objects.aggregate(n=Count("pk"), latest=Max("created"))
    latest = found["latest"] or datetime.fromtimestamp(0, tz=UTC)
    version, modified = list_stamp()
    return f"log:{found['n']}:{latest.isoformat()}:{version}", max(latest, modified)


@require_safe
def moderation_log(request):
    """Every moderator action, newest first: moderation in public."""
    filters = ModerationLogFilterForm(request.GET)
    actions = ModerationAction.objects.for_log_page()
    if filters.is_valid() and filters.cleaned_data["topic"]:
        actions = actions.for_topic(filters.cleaned_data["topic"])
    context = {
        "filters": filters,
        "page": paginate(actions, request.GET.get("page")),
        "show_moderators": settings.STANDPOINT_LOG_SHOWS_MODERATORS,
    }
    status = 200 if filters.is_valid() else 400
    return render(request, "forum/moderation_log.html", context, status=status)
