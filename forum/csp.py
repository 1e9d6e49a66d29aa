"""The Content-Security-Policy header, built once per process.

django-csp builds the header from settings on every response: about a tenth
of what a cached page costs to answer. This site's policy is the same for
every response (no view changes it, no template asks for a nonce), so it is
built once and set as is. A response a view gave its own policy (django-csp's
decorators), a request that asked for a nonce, a report-only policy or DEBUG
go through django-csp unchanged.
"""

from functools import cache

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What django-csp's decorators set on a response to change its policy.
OVERRIDES = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)


@cache
def site_policy() -> str:
    return build_policy()


@receiver(setting_changed)
def _policy_changed(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY") or setting == "DEBUG":
        site_policy.cache_clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if (
            settings.DEBUG
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in OVERRIDES)
        ):
            return super().process_response(request, response)
        excluded = (settings.CONTENT_SECURITY_POLICY or {}).get(
            "EXCLUDE_URL_PREFIXES"
        ) or ()
        policy = site_policy()
        wanted = policy and not request.path_info.startswith(tuple(excluded))
        if wanted and HEADER not in response:
            response[HEADER] = policy
        # As django-csp: a nonce asked for after the header is written fails loudly.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
