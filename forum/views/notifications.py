"""A reader's notifications, the topics they follow, and what they want mailed.

Everything here is the signed-in reader's own, except two links that arrive
by mail: the address check (signed, expiring, for the account it names) and
one-click unsubscribe (signed, and working without signing in, as RFC 8058
asks: a mail client posts to it with no cookie and no CSRF token).
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import limits, notices
from ..forms import AddressForm, MailChoicesForm, WatchForm
from ..models import MailCategory, Topic
from ..services import notifications as service
from .base import safe_next, submit

PER_PAGE = 50


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def notification_list(request):
    shown = notices.with_parts(service.visible(request.user))
    page = Paginator(shown, PER_PAGE).get_page(request.GET.get("page"))
    rows = notices.decorate(page.object_list)
    unread = service.unread_count(request.user)
    # The header's count too: counted once for both.
    context = {"page": page, "rows": rows, "unread": unread}
    context["unread_notifications"] = unread
    return render(request, "forum/notifications.html", context)


@login_required
@require_POST
def notification_open(request, pk):
    """Mark one notification read and go where it points; another reader's is a 404."""
    found = get_object_or_404(
        service.visible(request.user).select_related("topic"), pk=pk
    )
    service.mark_read(request.user, found.pk)
    if request.POST.get("stay"):
        return redirect("notifications")
    return redirect(notices.target(found))


@login_required
@require_POST
def notifications_read(request):
    marked = service.mark_read(request.user)
    messages.success(
        request, f"Marked {marked} notification{'s' * (marked != 1)} read."
    )
    return redirect("notifications")


@login_required
@require_POST
def topic_watch(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    form = WatchForm(request.POST)
    if not form.is_valid():
        return HttpResponse(
            "Choose watching, tracking or muted.", status=400, content_type="text/plain"
        )
    reader = service.watch_set(
        user=request.user, topic=topic, level=form.cleaned_data["level"]
    )
    messages.success(
        request, f"“{topic.title}”: {reader.get_level_display().split(':')[0]}."
    )
    return redirect(safe_next(request) or topic)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def followed_topics(request):
    context = {
        "readers": service.followed_topics(request.user),
        "form": WatchForm(),
    }
    return render(request, "forum/followed_topics.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    """The reader's address and, per kind of notification, what to mail."""
    current = service.mail_settings(request.user)
    form = MailChoicesForm(request.POST or None, instance=current)

    def save(data):
        service.mail_choices_set(user=request.user, choices=data)
        messages.success(request, "Your mail settings are saved.")
        return redirect("notifications-settings")

    return submit(
        request,
        form,
        save,
        template="forum/notification_settings.html",
        context=settings_context(request, current, form=form),
    )


def settings_context(request, current, **forms) -> dict:
    return {
        "current": current,
        "form": MailChoicesForm(instance=current),
        "address_form": AddressForm(initial={"email": current.email}),
        "blocked": service.blocked_users(request.user),
        **forms,
    }


@login_required
@require_POST
def notification_address(request):
    """Send a verification link to the address the reader gives."""
    current = service.mail_settings(request.user)
    form = AddressForm(request.POST)

    def save(data):
        with limits.counted("verify_mail", request.user.pk):
            service.address_verification(user=request.user, address=data["email"])
        messages.success(
            request,
            f"We sent a link to {data['email']}: open it to confirm the address.",
        )
        return redirect("notifications-settings")

    return submit(
        request,
        form,
        save,
        template="forum/notification_settings.html",
        context=settings_context(request, current, address_form=form),
    )


@login_required
@require_POST
def notification_address_remove(request):
    service.address_remove(user=request.user)
    messages.success(request, "Your address is removed: nothing will be mailed.")
    return redirect("notifications-settings")


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def notification_verify(request, token):
    """Confirm an address from the link mailed to it: shown, then confirmed by POST."""
    try:
        user_id, address = service.address_from_token(token)
    except ValidationError as exc:
        return refused(request, "forum/notification_verify.html", exc)
    if request.method != "POST":
        context = {"address": address, "other": user_id != request.user.pk}
        return render(request, "forum/notification_verify.html", context)
    try:
        service.address_verify(user=request.user, token=token)
    except ValidationError as exc:
        return refused(request, "forum/notification_verify.html", exc)
    messages.success(
        request, f"{address} is confirmed: notifications will be mailed there."
    )
    return redirect("notifications-settings")


def refused(request, template: str, exc: ValidationError):
    """A mailed link that does not hold: the page, saying why, with a 400."""
    return render(request, template, {"error": exc.messages[0]}, status=400)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def notification_unsubscribe(request, token):
    """One-click unsubscribe (RFC 8058): the signed link is the permission."""
    try:
        user_id, categories = service.unsubscribe_target(token)
    except ValidationError as exc:
        return refused(request, "forum/notification_unsubscribe.html", exc)
    labels = [MailCategory(c).label for c in categories]
    if request.method == "POST":
        service.unsubscribe(token)
        context = {"done": True, "labels": labels}
        return render(request, "forum/notification_unsubscribe.html", context)
    return render(request, "forum/notification_unsubscribe.html", {"labels": labels})


@login_required
@require_POST
def user_block(request, username):
    """Block (or, with `unblock`, stop blocking) another reader's replies and
    mentions from notifying you."""
    other = get_object_or_404(get_user_model(), username=username)
    blocked = not request.POST.get("unblock")
    try:
        service.block_set(user=request.user, other=other, blocked=blocked)
    except ValidationError as exc:
        return HttpResponse(exc.messages[0], status=400, content_type="text/plain")
    if blocked:
        messages.success(
            request, f"{username}'s replies and mentions will not notify you."
        )
    else:
        messages.success(
            request, f"{username}'s replies and mentions notify you again."
        )
    return redirect(safe_next(request) or reverse("profile", args=[username]))
