"""What every page's layout shows of the site's settings."""

from django.conf import settings


def site(request) -> dict:
    return {"data_license": settings.STANDPOINT_DATA_LICENSE}
