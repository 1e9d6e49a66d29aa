"""Requests the site cannot serve now, or cannot read, get an answer, never a 500 page.

- A write that meets a locked database answers 503: the same request, sent again
  in a moment, gets through.
- A write the storage refuses (a full disk, a read-only database) answers 503
  too: the site cannot save right now. Pages that post a form catch both first
  and give the form back as typed (views.base.submit).
- A form whose body is not valid in its declared character set answers 400.
"""

import logging
import sqlite3
from urllib.parse import parse_qsl

from django.db import DatabaseError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.datastructures import MultiValueDict

from .http import STORAGE_RETRY_AFTER, bad_request, service_unavailable

logger = logging.getLogger(__name__)

try:
    from psycopg import errors as pg_errors
except ImportError:  # An install that only ever uses SQLite.
    POSTGRES_BUSY_ERRORS: tuple[type[Exception], ...] = ()
    POSTGRES_STORAGE_ERRORS: tuple[type[Exception], ...] = ()
else:
    POSTGRES_BUSY_ERRORS = (
        pg_errors.LockNotAvailable,
        pg_errors.SerializationFailure,
        pg_errors.DeadlockDetected,
    )
    POSTGRES_STORAGE_ERRORS = (
        pg_errors.InsufficientResources,  # class 53: disk full, out of memory
        pg_errors.ReadOnlySqlTransaction,
        pg_errors.IoError,
    )
# SQLite says it in words; these are its messages for a full disk, a file it
# may not write, and storage that fails under it.
SQLITE_STORAGE_MESSAGES = (
    "database or disk is full",
    "attempt to write a readonly database",
    "disk i/o error",
    "unable to open database file",
)


def is_database_busy(exc: BaseException | None) -> bool:
    """Whether `exc` is lock contention that the same request, resent, may get past."""
    if not isinstance(exc, OperationalError):
        return False
    # Django wraps the driver's error and keeps it as the cause.
    return "database is locked" in str(exc) or isinstance(
        exc.__cause__, POSTGRES_BUSY_ERRORS
    )


def is_storage_fault(exc: BaseException | None) -> bool:
    """Whether `exc` is the storage refusing writes: full, read-only, failing."""
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    if isinstance(cause, POSTGRES_STORAGE_ERRORS):
        return True
    message = str(exc).lower()
    return isinstance(cause, sqlite3.Error) and any(
        words in message for words in SQLITE_STORAGE_MESSAGES
    )


def unavailable_for(exc: BaseException | None) -> HttpResponse | None:
    """The 503 for a database that is busy or cannot save, else None."""
    if is_database_busy(exc):
        return service_unavailable()
    if is_storage_fault(exc):
        return service_unavailable(retry_after=STORAGE_RETRY_AFTER, storage=True)
    return None


class DatabaseFailureMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        response = unavailable_for(exception)
        if response is not None:
            logger.warning(
                "Database could not serve a write, answered 503: %s %s (%s)",
                request.method,
                request.path,
                exception,
            )
        return response


FORM_TYPE = "application/x-www-form-urlencoded"


class RequestCharsetMiddleware:
    """A form body that its declared character set cannot read is a 400 with a message.

    Django reads such a body with replacement characters, or refuses it from
    deep inside a middleware where no error page can render; this answers
    first, before anything reads the form.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in {"POST", "PUT", "PATCH"} and (
            problem := self.problem(request)
        ):
            # Nothing after this may try to read the form again.
            request._post, request._files = QueryDict(), MultiValueDict()
            return bad_request(request, problem)
        return self.get_response(request)

    @staticmethod
    def problem(request: HttpRequest) -> str | None:
        content_type = request.content_type
        charset = request.content_params.get("charset", "utf-8").strip().lower()
        if content_type != FORM_TYPE:
            return None
        if charset.replace("-", "").replace("_", "") != "utf8":
            return (
                f"This form was sent as {charset!r}; the site reads forms in UTF-8 "
                "only. Send it again from the page (your browser does that)."
            )
        try:
            parse_qsl(
                request.body.decode("ascii"),
                keep_blank_values=True,
                encoding="utf-8",
                errors="strict",
            )
        except UnicodeDecodeError:
            return (
                "This form holds bytes that are not valid UTF-8, the character set "
                "it declares. Send it again from the page."
            )
        return None


JSON_PREFIXES = ("/api/", "/data/")


class JsonErrorsMiddleware:
    """Under /api/ and /data/, an error from anywhere (an unknown path, a CSRF
    refusal, a busy database, a bug) answers JSON with its status, never an
    HTML page: the programs that call there read JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(JSON_PREFIXES)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return self.as_json(response)
        return response

    @staticmethod
    def as_json(response: HttpResponse) -> HttpResponse:
        status = response.status_code
        detail = JSON_MESSAGES.get(status, response.reason_phrase)
        answer = JsonResponse({"detail": detail}, status=status)
        for header in ("Retry-After", "Allow"):
            if header in response:
                answer[header] = response[header]
        return answer


JSON_MESSAGES = {
    400: "Bad request.",
    403: "Forbidden: the API is read-only and takes no forms.",
    404: "Nothing here: the API's endpoints are listed at /api/v1/docs.",
    405: "Method not allowed: the API and the data downloads are read-only.",
    500: "The server failed to answer; the failure was logged.",
    503: "The database is busy or cannot serve now; try again after Retry-After.",
}
