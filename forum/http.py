"""Answers for requests the site cannot serve now, each saying when to come back."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

# Seconds: about one SQLite busy timeout's worth of queued writes.
BUSY_RETRY_AFTER = 5


def too_many_requests(
    request: HttpRequest,
    *,
    retry_after: int,
    template: str = "429.html",
    context: dict | None = None,
) -> HttpResponse:
    """A 429 with its Retry-After: the plain page, or `template` with the typed form kept."""
    context = {**(context or {}), "retry_after": retry_after}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def service_unavailable(*, retry_after: int = BUSY_RETRY_AFTER) -> HttpResponse:
    """The 503 page with its Retry-After; it renders without the request or database."""
    content = render_to_string("503.html", {"retry_after": retry_after})
    response = HttpResponse(content, status=503)
    response["Retry-After"] = str(retry_after)
    return response
