"""Shared page cache for anonymous readers, revalidated on every request.

Each cached page is keyed on a stamp read with one small query (the topic's
`updated`), so a reply, an edit or a moderator action reaches every worker
process and machine at once, whatever the cache backend. Signed-in readers
always get a fresh page.
"""

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.http import http_date

# Bounds staleness from writes that do not touch a topic (a renamed user or tag).
PAGE_CACHE_SECONDS = 300

Stamp = Callable[..., tuple[str, datetime] | None]


def cached_for_anonymous(stamp: Stamp):
    """Cache a GET view's 200 pages for anonymous readers and answer 304s.

    `stamp(**view_kwargs)` returns (version, last_modified), or None for a 404.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, **kwargs):
            if request.user.is_authenticated:
                return view(request, **kwargs)
            found = stamp(**kwargs)
            if found is None:
                raise Http404("Not found.")
            version, last_modified = found
            digest = hashlib.sha256(
                f"{version}|{request.get_full_path()}".encode()
            ).hexdigest()
            etag = f'"{digest[:32]}"'
            modified = int(last_modified.timestamp())
            not_modified = get_conditional_response(
                request, etag=etag, last_modified=modified
            )
            if not_modified is not None:
                return _mark(not_modified, etag, modified)
            key = f"page:{digest}"
            content = cache.get(key)
            if content is None:
                response = view(request, **kwargs)
                if response.status_code != 200 or response.cookies:
                    return response
                cache.set(key, response.content, PAGE_CACHE_SECONDS)
            else:
                response = HttpResponse(content)
            return _mark(response, etag, modified)

        return wrapper

    return decorator


def _mark(response: HttpResponse, etag: str, modified: int) -> HttpResponse:
    response.headers["ETag"] = etag
    response.headers["Last-Modified"] = http_date(modified)
    # Browsers and proxies may keep it but must ask again; signed-in pages differ.
    patch_cache_control(response, public=True, max_age=0, must_revalidate=True)
    patch_vary_headers(response, ["Cookie"])
    return response
