"""A write that cannot get the database lock in time answers 503, never a 500 page."""

import logging

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse

from .http import service_unavailable

logger = logging.getLogger(__name__)

try:
    from psycopg import errors as pg_errors
except ImportError:  # An install that only ever uses SQLite.
    POSTGRES_BUSY_ERRORS: tuple[type[Exception], ...] = ()
else:
    POSTGRES_BUSY_ERRORS = (
        pg_errors.LockNotAvailable,
        pg_errors.SerializationFailure,
        pg_errors.DeadlockDetected,
    )


def is_database_busy(exc: BaseException | None) -> bool:
    """Whether `exc` is lock contention that the same request, resent, may get past."""
    if not isinstance(exc, OperationalError):
        return False
    # Django wraps the driver's error and keeps it as the cause.
    return "database is locked" in str(exc) or isinstance(
        exc.__cause__, POSTGRES_BUSY_ERRORS
    )


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_database_busy(exception):
            return None
        logger.warning(
            "Database busy, answered 503: %s %s (%s)",
            request.method,
            request.path,
            exception,
        )
        return service_unavailable()
