"""Pages that write: replying, previewing, editing, reporting and proposing.

Each view fetches what it needs, binds its form and hands the rest to
`base.submit`, whose `save` calls one service and says where to go.
"""

from contextlib import ExitStack, nullcontext

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .. import limits, services
from ..forms import PostEditForm, PostForm, ProposalForm, ReportForm
from ..http import too_many_requests
from ..markup import quote_markdown, render_markdown
from ..models import BODY_MAX_LENGTH, Post, Topic
from .base import is_id, submit

POSTED = "Your reply is posted."
EDITED = "Your edit is saved. The post’s history keeps every version."
REPORTED = (
    "Thank you: your report is with the moderators. The moderation log will show "
    "what they decide."
)
PROPOSED = "Thank you: your proposal is waiting for a moderator."


@login_required
@require_http_methods(["GET", "POST"])
def post_create(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    if "preview" in request.POST:
        return reply_form_preview(request, topic)
    initial = {} if request.POST else reply_initial(request, topic)
    form = PostForm(request.POST or None, topic=topic, initial=initial)
    context = reply_context(request, topic, form)

    def save(data):
        try:
            post = publish(request, topic, form)
        except services.DuplicatePost as exc:
            # The text is posted (earlier): the browser's draft can go too.
            messages.warning(request, exc.messages[0], extra_tags="posted")
            return redirect(exc.post)
        # Also tells the page's script that the browser's draft is posted.
        messages.success(request, POSTED, extra_tags="posted")
        return redirect(post)

    blocked = topic.is_locked or bool(context["suspension"])
    return submit(
        request,
        form,
        save,
        template="forum/post_form.html",
        context=context,
        blocked=blocked,
    )


def reply_context(request, topic: Topic, form: PostForm, **extra) -> dict:
    """The reply page's context: the form, the post it answers, what refuses it."""
    return {
        "topic": topic,
        "form": form,
        "suspension": services.user_suspension(request.user),
        "parent_post": replying_to(topic, form),
        "locked_notice": services.TOPIC_LOCKED,
        **extra,
    }


def reply_form_preview(request, topic: Topic):
    """Without JavaScript, Preview brings the form back as typed, with the preview.

    The form is rebuilt unbound around the typed values: no errors until the
    reader posts.
    """
    form = PostForm(topic=topic, initial=PostForm.as_typed(request.POST, topic))
    context = reply_context(request, topic, form, typed=True)
    try:
        context["preview"] = preview_html(request)
    except limits.Limited as exc:
        return too_many_requests(
            request,
            retry_after=exc.retry_after,
            template="forum/post_form.html",
            context=context,
        )
    status = 403 if topic.is_locked or context["suspension"] else 200
    return render(request, "forum/post_form.html", context, status=status)


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
            post.body,
            source=f"#{post.pk} by {post.author.get_username()}",
            url=post.get_absolute_url(),
        )
    elif is_id(passage, 5) and (block := topic.passage(int(passage))):
        initial["passage"] = block.number
        initial["body"] = quote_markdown(
            block.source,
            source=f"the article, paragraph {block.number}",
            url=f"{topic.get_absolute_url()}#passage-{block.number}",
        )
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
        Post.objects.published()
        .for_topic(topic)
        .filter(pk=int(value))
        .select_related("author")
        .prefetch_related("conflict_parties")
        .first()
    )
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
            topic=topic,
            author=author,
            body=data["body"],
            stances=data["stances"],
            tags=data["tags"],
            parent=data["parent"],
            passage=data["passage"],
            disclosure=form.disclosure(),
            attested=data["attest"],
            admit=admit,
        )


@login_required
@require_http_methods(["GET", "POST"])
def post_edit(request, pk):
    """An author's edit of their reply, or a moderator's of anyone's, kept in its history."""
    post = get_object_or_404(Post.objects.select_related("topic", "author"), pk=pk)
    own = post.author_id == request.user.pk
    refusal = services.post_edit_refusal(post=post, editor=request.user)
    if refusal and refusal.code == "not_yours":
        context = {"post": post, "refusal": refusal.message}
        return render(request, "forum/post_edit.html", context, status=403)
    form = PostEditForm(
        request.POST or None, instance=post, topic=post.topic, by_moderator=not own
    )
    suspension = services.user_suspension(request.user) if own else None
    context = {
        "post": post,
        "topic": post.topic,
        "form": form,
        "refusal": refusal and refusal.message,
        "suspension": suspension,
    }

    def save(data):
        counted = (
            nullcontext()
            if request.user.is_staff
            else limits.counted("edit", request.user.pk)
        )
        with counted:
            services.post_edit(
                post=post,
                editor=request.user,
                body=data["body"],
                stances=data["stances"],
                tags=data["tags"],
                disclosure=form.disclosure(),
                reason=data["reason"],
                attested=data.get("attest", False),
            )
        messages.success(request, EDITED)
        return redirect(post)

    blocked = bool(refusal or suspension)
    return submit(
        request,
        form,
        save,
        template="forum/post_edit.html",
        context=context,
        blocked=blocked,
    )


@login_required
@require_http_methods(["GET", "POST"])
def post_report(request, pk):
    post = get_object_or_404(Post.objects.select_related("topic", "author"), pk=pk)
    form = ReportForm(request.POST or None)
    context = {
        "post": post,
        "topic": post.topic,
        "form": form,
        "suspension": services.user_suspension(request.user),
        "own": post.author_id == request.user.pk,
        "threshold": settings.STANDPOINT_REPORT_THRESHOLD,
    }

    def save(data):
        with limits.counted("report", request.user.pk):
            services.report_create(
                post=post,
                reporter=request.user,
                reason=data["reason"],
                note=data["note"],
            )
        messages.success(request, REPORTED)
        return redirect(post)

    blocked = bool(context["own"] or context["suspension"])
    return submit(
        request,
        form,
        save,
        template="forum/report_form.html",
        context=context,
        blocked=blocked,
    )


@login_required
@require_http_methods(["GET", "POST"])
def position_propose(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    form = ProposalForm(request.POST or None, topic=topic)
    proposals = request.user.proposals.filter(topic=topic).select_related("position")
    context = {
        "topic": topic,
        "form": form,
        "proposals": proposals,
        "suspension": services.user_suspension(request.user),
        "locked_notice": services.TOPIC_LOCKED_TO_PROPOSALS,
    }

    def save(data):
        with limits.counted("propose", request.user.pk):
            services.position_propose(
                topic=topic,
                author=request.user,
                claim=data["claim"],
                summary=data["summary"],
                quote=data["quote"],
                disclosure=form.disclosure(),
                attested=data["attest"],
            )
        messages.success(request, PROPOSED)
        return redirect("position-propose", slug=topic.slug)

    blocked = topic.is_locked or bool(context["suspension"])
    return submit(
        request,
        form,
        save,
        template="forum/proposal_form.html",
        context=context,
        blocked=blocked,
    )
