"""Settings mistakes caught by `manage.py check`, before a request meets them."""

import ipaddress

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .limits import parse_rates


@register()
def check_flood_control(app_configs, **kwargs) -> list[Error]:
    errors = []
    for name, text in settings.STANDPOINT_RATE_LIMITS.items():
        try:
            parse_rates(text)
        except ImproperlyConfigured as exc:
            errors.append(
                Error(
                    str(exc),
                    hint=f"Fix RATE_LIMIT_{name.upper()} or "
                    f"STANDPOINT_RATE_LIMITS[{name!r}].",
                    id="forum.E001",
                )
            )
    if settings.STANDPOINT_REPORT_THRESHOLD < 1:
        errors.append(
            Error(
                "REPORT_THRESHOLD must be at least 1: at 0 any post would be "
                "hidden by the first report.",
                id="forum.E003",
            )
        )
    for network in settings.STANDPOINT_TRUSTED_PROXIES:
        if network == "unix":  # a proxy on a Unix socket
            continue
        try:
            ipaddress.ip_network(network)
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES entry {network!r} is not an address or network.",
                    id="forum.E002",
                )
            )
    return errors
