"""Answers for requests the site cannot serve now, each saying when to come back."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

# Seconds: about one SQLite busy timeout's worth of queued writes.
BUSY_RETRY_AFTER = 5
# Seconds: storage that refuses writes (a full disk) needs someone to act.
STORAGE_RETRY_AFTER = 60


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


def service_unavailable(
    *, retry_after: int = BUSY_RETRY_AFTER, storage: bool = False
) -> HttpResponse:
    """The 503 page with its Retry-After; it renders without the request or database.

    `storage`: the database refused to save (full, read-only), not just busy.
    """
    context = {"retry_after": retry_after, "storage": storage}
    response = HttpResponse(render_to_string("503.html", context), status=503)
    response["Retry-After"] = str(retry_after)
    return response


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """The 400 page with a message saying what was wrong with the request."""
    return render(request, "400.html", {"message": message}, status=400)
