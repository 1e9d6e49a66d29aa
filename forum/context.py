"""What every page's layout shows of the site's settings."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from .services.notifications import unread_count


def site(request) -> dict:
    return {"data_license": settings.STANDPOINT_DATA_LICENSE}


def notifications(request) -> dict:
    """The header's unread count, read only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
