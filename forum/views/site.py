"""What the site answers about itself: health for load balancers, and the 500 page."""

import logging
import sys

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ..caching import cache_health
from ..middleware import unavailable_for

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request):
    """For load balancers and people: each dependency's state, 503 if one the site needs is down.

    The database is needed. The caches are not: without them pages are built
    fresh and flood limits count in the database, so a cache that is down
    reports "degraded" with a 200, and the log says once which and why.
    """
    checks = {"database": database_health(), "cache": _cache_health("default")}
    if _location("limits") != _location("default"):
        checks["limits_cache"] = _cache_health("limits")
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif any(state != "ok" for state in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, **checks}, status=code)


def database_health() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.exception("Health check: the database did not answer")
        return f"down: {type(exc).__name__}"
    return "ok"


def _cache_health(alias: str) -> str:
    """A cache in another process (Redis) can be down; local memory cannot."""
    if "Redis" not in settings.CACHES[alias]["BACKEND"]:
        return "ok"
    return cache_health(alias)


def _location(alias: str) -> str:
    cache = settings.CACHES[alias]
    return f"{cache['BACKEND']}:{cache.get('LOCATION', '')}"


def server_error(request):
    """handler500: a busy or full database met after the view (a session save)
    still gets its 503."""
    return unavailable_for(sys.exc_info()[1]) or defaults.server_error(request)
