"""What the site answers about itself: health for load balancers, and the 500 page."""

import logging
import sys

from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ..http import service_unavailable
from ..middleware import is_database_busy

logger = logging.getLogger(__name__)


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
