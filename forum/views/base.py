"""What every page shares: paging, and the one way a posted form is answered."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import InvalidPage, Page, Paginator
from django.db import DatabaseError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from .. import limits
from ..http import BUSY_RETRY_AFTER, STORAGE_RETRY_AFTER, too_many_requests
from ..middleware import is_database_busy, is_storage_fault

logger = logging.getLogger(__name__)

# Refusals that are about who is asking, not what they typed.
FORBIDDEN_CODES = {"suspended", "own_post", "topic_locked", "not_yours"}
# Mistakes in the form itself, like a field's: the page answers 200 with them.
FORM_CODES = {"unchanged"}


def submit(
    request: HttpRequest,
    form: BaseForm,
    save: Callable[[dict], HttpResponse],
    *,
    template: str,
    context: dict,
    blocked: bool = False,
) -> HttpResponse:
    """Answer a form page: on valid input, `save(cleaned_data)`, else the form again.

    `save` calls one service and returns where to go (a redirect). Over a
    flood limit the answer is 429 with Retry-After; a database that is busy
    or cannot save answers 503 with Retry-After; a refusal from the service
    goes on the form. Every time the page comes back with what the person
    typed. `blocked` (suspended, locked, not theirs) skips saving and answers
    403 with the form as typed.
    """
    if form.is_bound and not blocked and form.is_valid():
        try:
            return save(form.cleaned_data)
        except limits.Limited as exc:
            return too_many_requests(
                request,
                retry_after=exc.retry_after,
                template=template,
                context=context,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except DatabaseError as exc:
            if not (is_database_busy(exc) or is_storage_fault(exc)):
                raise
            return database_unavailable(request, exc, template, context)
    status = 403 if blocked else refusal_status(form)
    return render(request, template, context, status=status)


def database_unavailable(
    request: HttpRequest, exc: DatabaseError, template: str, context: dict
) -> HttpResponse:
    """The form again, as typed, with a 503: the database was busy or could not save."""
    logger.warning(
        "Database could not save, answered 503 with the form: %s %s (%s)",
        request.method,
        request.path,
        exc,
    )
    storage = is_storage_fault(exc)
    retry_after = STORAGE_RETRY_AFTER if storage else BUSY_RETRY_AFTER
    context = {
        **context,
        "retry_after": retry_after,
        "unavailable": "storage" if storage else "busy",
    }
    response = render(request, template, context, status=503)
    response["Retry-After"] = str(retry_after)
    return response


def refusal_status(form: BaseForm) -> int:
    """403 for a refusal of who is asking, 409 for one of the moment, else 200."""
    errors = form.errors.as_data().get(NON_FIELD_ERRORS, [])
    codes = {error.code for error in errors} - FORM_CODES
    return 403 if codes & FORBIDDEN_CODES else 409 if codes else 200


def per_page() -> int:
    return settings.STANDPOINT_POSTS_PER_PAGE


def paginate(items, number: str | None, *, count: int | None = None) -> Page:
    """The page `number` of `items`; a known `count` saves counting the rows."""
    paginator = Paginator(items, per_page())
    if count is not None:
        paginator.count = count  # Paginator.count is a cached_property.
    try:
        return paginator.page(number or 1)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc


def is_id(text: str, digits: int = 18) -> bool:
    """Whether a query parameter is a plain id, before it goes near the database."""
    return text.isascii() and text.isdigit() and len(text) <= digits


def safe_next(request: HttpRequest) -> str:
    """The `next` address a form or link carries, if it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    )
    return target if allowed else ""
