"""Signing up and in, and the reader's own disclosure defaults."""

from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from .. import limits, services
from ..forms import DefaultsForm, SignInForm, SignupForm
from .base import safe_next, submit


@login_required
@require_http_methods(["GET", "POST"])
def profile_defaults(request):
    """The signed-in reader's default disclosure answers, kept with their history."""
    current = services.user_defaults(request.user)
    form = DefaultsForm(request.POST or None, instance=current)

    def save(data):
        with limits.counted("defaults", request.user.pk):
            changed = services.user_set_defaults(
                user=request.user,
                affiliation=data["affiliation"],
                paid=data["paid"],
                paid_by=data["paid_by"],
                interests=data["interests"],
            )
        messages.success(
            request,
            "Your defaults are saved; your profile shows them."
            if changed
            else "Nothing changed in your defaults.",
        )
        return redirect("profile", username=request.user.get_username())

    context = {"form": form}
    return submit(
        request, form, save, template="forum/profile_defaults.html", context=context
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = safe_next(request)
    form = SignupForm(request.POST or None)

    def save(data):
        with limits.counted("signup", limits.client_key(request)):
            user = services.user_signup(
                username=data["username"], password=data["password1"]
            )
        login(request, user, backend="forum.auth.Backend")
        return redirect(next_url or "topic-list")

    context = {"form": form, "next": next_url}
    return submit(
        request, form, save, template="registration/signup.html", context=context
    )


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
