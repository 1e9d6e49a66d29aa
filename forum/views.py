"""Pages: read without an account, sign up to post. Views fetch, validate, call one service."""

import logging
import re
import sys
from contextlib import ExitStack, nullcontext
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.db import DatabaseError, connection
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from . import history, limits, records, services, stancemap
from .caching import cacheable, cached_for_anonymous, canonical_path, fragment
from .forms import (
    DefaultsForm,
    ModerationLogFilterForm,
    PostEditForm,
    PostForm,
    ProposalForm,
    ReportForm,
    SignInForm,
    SignupForm,
    ThreadFilterForm,
)
from .http import service_unavailable, too_many_requests
from .markup import quote_markdown, render_markdown
from .middleware import is_database_busy
from .models import (
    BODY_MAX_LENGTH,
    DisclosureDefaults,
    ModerationAction,
    Post,
    PostStatus,
    Topic,
)

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


THREAD_PARAMS = frozenset({"page", "stance", "authorship", "written", "ties", "order"})


@require_safe
@cached_for_anonymous(thread_stamp, params=THREAD_PARAMS)
def topic_detail(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    version = topic_version(topic.pk, topic.updated)
    body, status = fragment(
        ("thread", version, canonical_path(request), request.user.is_staff),
        lambda: thread_body(request, topic),
        store=cacheable(request, THREAD_PARAMS),
        keep=lambda rendered: rendered[1] == 200,  # a bad filter's 400 is not kept
    )
    context = {"topic": topic, "thread_body": edit_links(body, request.user, topic),
               "reply_fields": None}  # fmt: skip
    if request.user.is_authenticated and not topic.is_locked:
        # The form is shared by every reader with the same defaults (or none).
        defaults = services.user_defaults(request.user)
        context["reply_fields"] = fragment(
            ("reply-fields", version, defaults and defaults.pk),
            lambda: reply_fields(topic, defaults),
        )
    return render(request, "forum/topic_detail.html", context, status=status)


def reply_fields(topic: Topic, defaults: DisclosureDefaults | None) -> str:
    """The reply form's fields, pre-filled from one version of someone's defaults."""
    initial = services.defaults_initial(defaults, topic)
    form = PostForm(topic=topic, initial=initial)
    return render_to_string("forum/_reply_fields.html", {"form": form, "topic": topic})


EDIT_HOLE = re.compile(r"<!--edit (\d+) (\d+)-->")


def edit_links(body: str, user, topic: Topic) -> str:
    """Fill the cached thread's holes with Edit links where `user` may edit.

    The thread HTML is shared by every reader, so each post leaves a comment
    naming itself and its author; this puts the reader's own links in, with no
    query, or takes the holes out.
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


def thread_body(request, topic: Topic) -> tuple[str, int]:
    """The article, positions and a page of replies: the same for every non-staff reader."""
    prefetch_related_objects([topic], *Topic.thread_prefetch())
    filters = ThreadFilterForm(request.GET, topic=topic)
    # Unfiltered, a thread keeps hidden replies in place as tombstones, so the
    # conversation reads on; a filter picks among what the reader may read.
    posts = topic.posts.in_thread_order()
    if filters.is_newest_first():
        posts = posts.newest_first()
    filtering = filters.is_filtering()
    if filtering:
        posts = filters.filter(posts.visible_to(request.user))
    # Page by ids first: a deep page's OFFSET then walks the index alone, and
    # only the twenty rows shown are joined and prefetched.
    page = paginate(
        posts.values_list("pk", flat=True),
        request.GET.get("page"),
        count=None if filtering else topic.reply_count + topic.hidden_count,
    )
    page.object_list = topic.posts.for_thread_page().in_order_of(page.object_list)
    history.attach_trails(page.object_list)
    context = {"topic": topic, "page": page, "filters": filters,
               "positions": positions_section(topic),
               "jsonld": records.thread_jsonld(topic, page.object_list)}  # fmt: skip
    html = render_to_string("forum/_thread_body.html", context, request=request)
    return html, 200 if filters.is_valid() else 400


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


@login_required
@require_http_methods(["GET", "POST"])
def post_create(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    preview = "preview" in request.POST
    if preview:  # Without JavaScript: the form comes back as typed, with its preview.
        form = PostForm(topic=topic, initial=PostForm.as_typed(request.POST, topic))
    else:
        initial = {} if request.POST else reply_initial(request, topic)
        form = PostForm(request.POST or None, topic=topic, initial=initial)
    suspension = services.user_suspension(request.user)
    # `typed`: a preview's form is rebuilt unbound, yet holds the reader's text.
    context = {"topic": topic, "form": form, "suspension": suspension, "typed": preview}
    if preview:
        try:
            context["preview"] = preview_html(request)
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="forum/post_form.html", context=context,
            )  # fmt: skip
    # A suspended author's text comes back untouched; the service checks again.
    if form.is_bound and not suspension and form.is_valid():
        try:
            post = publish(request, topic, form)
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="forum/post_form.html", context=context,
            )  # fmt: skip
        except ValidationError as exc:
            if getattr(exc, "code", None) == "duplicate":
                # The text is posted (earlier): the browser's draft can go too.
                messages.warning(request, exc.messages[0], extra_tags="posted")
                return redirect("post-detail", pk=exc.params["post"])
            form.add_error(None, exc)
        else:
            # Also tells the page's script that the browser's draft is posted.
            messages.success(request, POSTED, extra_tags="posted")
            return redirect(post)
    context["locked"] = topic.is_locked or form.has_error(
        NON_FIELD_ERRORS, "topic_locked"
    )
    context["parent_post"] = replying_to(topic, form)
    status = 403 if context["locked"] or suspension else refusal_status(form)
    return render(request, "forum/post_form.html", context, status=status)


POSTED = "Your reply is posted."


def is_id(text: str, digits: int = 18) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= digits


def reply_initial(request, topic: Topic) -> dict:
    """A new reply's form: the reader's defaults, and what its link asked for.

    `?parent=<post>` answers a post; `?quote=<post>` also quotes it, and
    `?passage=<n>` quotes paragraph n of the article and answers it.
    """
    initial = services.defaults_initial(services.user_defaults(request.user), topic)
    parent, quote = request.GET.get("parent", ""), request.GET.get("quote", "")
    passage = request.GET.get("passage", "")
    if is_id(parent):
        initial["parent"] = parent
    posts = topic.posts.published().select_related("author")
    if is_id(quote) and (post := posts.filter(pk=quote).first()):
        initial["parent"] = post.pk
        initial["body"] = quote_markdown(
            post.body, source=f"#{post.pk} by {post.author.get_username()}",
            url=post.get_absolute_url(),
        )  # fmt: skip
    elif is_id(passage, 5) and (block := topic.passage(int(passage))):
        initial["passage"] = block.number
        initial["body"] = quote_markdown(
            block.source, source=f"the article, paragraph {block.number}",
            url=f"{topic.get_absolute_url()}#passage-{block.number}",
        )  # fmt: skip
    return initial


@login_required
@require_POST
def reply_preview(request, slug):
    """The reply's body as the thread would show it, for the form's Preview button.

    The same renderer and sanitiser as a posted reply; nothing is stored.
    """
    topic = get_object_or_404(Topic, slug=slug)
    try:
        preview = preview_html(request)
    except limits.Limited as exc:
        return too_many_requests(request, retry_after=exc.retry_after)
    context = {"topic": topic, "preview": preview}
    return render(request, "forum/_preview.html", context)


def preview_html(request) -> str:
    """The posted body rendered as a reply would be, counted against the preview
    rate, at most a reply's length: previews store nothing but cost a render."""
    limits.take("preview", request.user.pk)
    return render_markdown(request.POST.get("body", "")[:BODY_MAX_LENGTH])


def replying_to(topic: Topic, form: PostForm) -> Post | None:
    """The published post a reply answers, shown above the form with its disclosure."""
    value = str(form["parent"].value() or "")
    if not (value.isascii() and value.isdigit() and int(value) < 2**63):
        return None
    parent = (
        Post.objects.published().for_topic(topic).filter(pk=int(value))
        .select_related("author").prefetch_related("conflict_parties").first()
    )  # fmt: skip
    if parent is not None:
        parent.topic = topic
    return parent


def publish(request, topic: Topic, form: PostForm) -> Post:
    """Post the reply, counted against its author's flood limits (moderators are exempt).

    The count is taken under the topic's lock, after the duplicate check: a
    double-submitted form finds its twin instead of a 429.
    """
    data, author = form.cleaned_data, request.user
    with ExitStack() as counts:

        def admit() -> None:
            if not author.is_staff:
                counts.enter_context(limits.counted("post", author.pk))

        return services.post_create(
            topic=topic, author=author, body=data["body"], stances=data["stances"],
            tags=data["tags"], parent=data["parent"], passage=data["passage"],
            attested=data["attest"],
            admit=admit, **form.disclosure(),
        )  # fmt: skip


@require_safe
def post_detail(request, pk):
    """A post's permanent address: the thread page that holds it (or its tombstone)."""
    post = get_object_or_404(Post.objects.select_related("topic"), pk=pk)
    ahead = Post.objects.for_topic(post.topic).before(post).count()
    page = ahead // per_page() + 1
    query = f"?page={page}" if page > 1 else ""
    return redirect(f"{post.topic.get_absolute_url()}{query}#p{post.pk}")


# Refusals that are about who is asking, not what they typed.
FORBIDDEN_CODES = {"suspended", "own_post", "topic_locked", "not_yours"}
# Mistakes in the form itself, like a field's: the page answers 200 with them.
FORM_CODES = {"unchanged"}


def refusal_status(form) -> int:
    errors = form.errors.as_data().get(NON_FIELD_ERRORS, [])
    codes = {error.code for error in errors} - FORM_CODES
    return 403 if codes & FORBIDDEN_CODES else 409 if codes else 200


@login_required
@require_http_methods(["GET", "POST"])
def post_edit(request, pk):
    """An author's edit of their reply, or a moderator's of anyone's, kept in its history."""
    post = get_object_or_404(Post.objects.select_related("topic", "author"), pk=pk)
    own = post.author_id == request.user.pk
    if not own and not request.user.is_staff:
        return render(request, "forum/post_edit.html", {"post": post, "refusal":
                      "You can only edit your own posts."}, status=403)  # fmt: skip
    form = PostEditForm(
        request.POST or None, instance=post, topic=post.topic, editor=request.user
    )
    refusal = edit_refusal(post) if own else None
    suspension = services.user_suspension(request.user) if own else None
    context = {"post": post, "topic": post.topic, "form": form, "refusal": refusal,
               "suspension": suspension}  # fmt: skip
    if form.is_bound and not (refusal or suspension) and form.is_valid():
        counted = nullcontext() if request.user.is_staff else limits.counted(
            "edit", request.user.pk
        )  # fmt: skip
        try:
            with counted:
                services.post_edit(post=post, editor=request.user, **form.edit())
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="forum/post_edit.html", context=context,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, EDITED)
            return redirect(post)
    status = 403 if refusal or suspension else refusal_status(form)
    return render(request, "forum/post_edit.html", context, status=status)


EDITED = "Your edit is saved. The post’s history keeps every version."


def edit_refusal(post: Post) -> str | None:
    """Why an author may not edit `post` now, if they may not; services check again."""
    if post.status == PostStatus.HIDDEN:
        return "Moderators hid this post, so it can no longer be edited."
    if post.topic.is_locked:
        return "This topic is locked: its replies can no longer be edited."
    return None


def readable_post(request, pk) -> Post:
    """A post with what its disclosure, history and record need; 404 if hidden from you."""
    post = get_object_or_404(
        Post.objects.select_related("topic", "author").prefetch_related(
            "stances__position", "tags", "conflict_parties", "topic__parties"
        ),
        pk=pk,
    )
    if post.is_hidden and not request.user.is_staff:
        raise Http404("Moderators hid this post; its history is kept for them.")
    return post


@require_safe
def post_history(request, pk):
    """Every version of a post with what each edit changed: public, like the log."""
    post = readable_post(request, pk)
    page, versions = history_page(request, post)
    context = {"post": post, "topic": post.topic, "page": page,
               "changes": history.changes(versions, first=page.object_list[0]),
               "can_edit": request.user.is_staff or (
                   post.author_id == request.user.pk and not edit_refusal(post))}  # fmt: skip
    return render(request, "forum/post_history.html", context)


def history_page(request, post: Post):
    public = not request.user.is_staff
    try:
        return history.versions(post, request.GET.get("page"), public=public)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc


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
    context = {"person": person, "page": page, "defaults": defaults[:DEFAULTS_SHOWN],
               "defaults_count": len(defaults) if shown else
               person.disclosure_defaults.count(),
               "own": person.pk == request.user.pk}  # fmt: skip
    return render(request, "forum/profile.html", context)


# The profile shows the current defaults and the latest earlier ones; every
# version is on the defaults history page.
DEFAULTS_SHOWN = 6


@require_safe
def profile_defaults_history(request, username):
    """Every version of a reader's disclosure defaults, newest first."""
    person = get_object_or_404(get_user_model(), username=username)
    page = paginate(person.disclosure_defaults.all(), request.GET.get("page"))
    context = {"person": person, "page": page}
    return render(request, "forum/defaults_history.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile_defaults(request):
    """The signed-in reader's default disclosure answers, kept with their history."""
    current = services.user_defaults(request.user)
    form = DefaultsForm(request.POST or None, instance=current)
    if form.is_bound and form.is_valid():
        try:
            with limits.counted("defaults", request.user.pk):
                changed = services.user_set_defaults(
                    user=request.user, **form.cleaned_data
                )
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="forum/profile_defaults.html", context={"form": form},
            )  # fmt: skip
        messages.success(
            request,
            "Your defaults are saved; your profile shows them."
            if changed else "Nothing changed in your defaults.",
        )  # fmt: skip
        return redirect("profile", username=request.user.get_username())
    return render(request, "forum/profile_defaults.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def post_report(request, pk):
    post = get_object_or_404(Post.objects.select_related("topic", "author"), pk=pk)
    form = ReportForm(request.POST or None)
    context = {"post": post, "topic": post.topic, "form": form,
               "suspension": services.user_suspension(request.user),
               "own": post.author_id == request.user.pk,
               "threshold": settings.STANDPOINT_REPORT_THRESHOLD}  # fmt: skip
    if form.is_bound and not context["suspension"] and form.is_valid():
        try:
            with limits.counted("report", request.user.pk):
                services.report_create(
                    post=post, reporter=request.user, **form.cleaned_data
                )
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="forum/report_form.html", context=context,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, REPORTED)
            return redirect(post)
    blocked = context["own"] or context["suspension"]
    status = 403 if blocked else refusal_status(form)
    return render(request, "forum/report_form.html", context, status=status)


REPORTED = (
    "Thank you: your report is with the moderators. The moderation log will show "
    "what they decide."
)


@login_required
@require_http_methods(["GET", "POST"])
def position_propose(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    form = ProposalForm(request.POST or None, topic=topic)
    proposals = request.user.proposals.filter(topic=topic).select_related("position")
    context = {"topic": topic, "form": form, "proposals": proposals,
               "suspension": services.user_suspension(request.user)}  # fmt: skip
    blocked = topic.is_locked or context["suspension"]
    if form.is_bound and not blocked and form.is_valid():
        data = form.cleaned_data
        try:
            with limits.counted("propose", request.user.pk):
                services.position_propose(
                    topic=topic, author=request.user, claim=data["claim"],
                    summary=data["summary"], quote=data["quote"],
                    attested=data["attest"], **form.disclosure(),
                )  # fmt: skip
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="forum/proposal_form.html", context=context,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, "Thank you: your proposal is waiting for a moderator."
            )
            return redirect("position-propose", slug=topic.slug)
    status = 403 if blocked else refusal_status(form)
    return render(request, "forum/proposal_form.html", context, status=status)


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


@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, {request.get_host()}, request.is_secure()
    ):
        next_url = ""
    form = SignupForm(request.POST or None)
    context = {"form": form, "next": next_url}
    if form.is_bound and form.is_valid():
        try:
            with limits.counted("signup", limits.client_key(request)):
                user = services.user_signup(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
        except limits.Limited as exc:
            return too_many_requests(
                request, retry_after=exc.retry_after,
                template="registration/signup.html", context=context,
            )  # fmt: skip
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_url or "topic-list")
    return render(request, "registration/signup.html", context)


def cooling_off(response):
    """A sign-in refused during a cool-off (forms.ThrottledSignIn) answers 429."""
    form = (getattr(response, "context_data", None) or {}).get("form")
    if getattr(form, "retry_after", None):
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


_login = auth_views.LoginView.as_view(
    authentication_form=SignInForm, redirect_authenticated_user=True
)


def login_view(request):
    return cooling_off(_login(request))


def admin_login(request):
    """The admin's own sign-in, held to the same cool-off (admin.site.login_form)."""
    return cooling_off(admin.site.login(request))


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
