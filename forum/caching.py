"""Caches keyed on what a page shows, revalidated against the database every time.

Every key holds a stamp read with one small query (a topic's `updated`, which
each service write moves), so a reply, an edit or a moderator action reaches
every worker process and machine at once, whatever the cache backend. Anonymous
readers get whole cached pages, with ETag and Last-Modified for 304s; signed-in
readers get pages built fresh around shared fragments of the same stamp.
"""

import gzip
import hashlib
import logging
import threading
import zlib
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache, wraps
from typing import TypeVar

from django.core.cache import cache, caches
from django.http import Http404, HttpResponse
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.http import http_date, urlencode

# Bounds staleness from writes that do not touch a topic (a renamed user or tag).
CACHE_SECONDS = 300
# A thread page of 58 KB: level 3 makes 8.0 KB in 0.18 ms, level 6 7.1 KB in
# 0.62 ms. Pages are compressed on every miss, so the faster level wins.
GZIP_LEVEL = 3

logger = logging.getLogger(__name__)

try:
    from redis.exceptions import RedisError
except ImportError:  # an install without Redis support
    RedisError = OSError
# What a cache that is down raises: pages are then built without it.
CACHE_ERRORS = (RedisError, OSError)

_down: dict[str, str] = {}
_down_lock = threading.Lock()


def report_cache(alias: str, error: Exception | None) -> None:
    """Log once when a cache stops answering, and once when it answers again."""
    with _down_lock:
        if error is not None and alias not in _down:
            _down[alias] = f"{type(error).__name__}: {error}"
            logger.error(
                "The %r cache is down (%s): pages are built without it and flood "
                "limits are counted in the database.",
                alias,
                _down[alias],
            )
        elif error is None and alias in _down:
            del _down[alias]
            logger.warning("The %r cache answers again.", alias)


def cache_health(alias: str) -> str:
    """'ok', or why the cache `alias` does not answer: a write and a read, for /healthz."""
    key = "healthz"
    try:
        caches[alias].set(key, "ok", 10)
        if caches[alias].get(key) != "ok":
            return "down: what was written could not be read back"
    except CACHE_ERRORS as exc:
        report_cache(alias, exc)
        return f"down: {type(exc).__name__}"
    report_cache(alias, None)
    return "ok"


def cache_get(key: str):
    """The cached value, or None when absent or the cache is down."""
    try:
        value = cache.get(key)
    except CACHE_ERRORS as exc:
        report_cache("default", exc)
        return None
    report_cache("default", None)
    return value


def cache_set(key: str, value, timeout: int = CACHE_SECONDS) -> None:
    """Keep `value` for the next reader, unless the cache is down."""
    try:
        cache.set(key, value, timeout)
    except CACHE_ERRORS as exc:
        report_cache("default", exc)


def cache_get_many(alias: str, keys: list[str]) -> dict:
    """The cached values among `keys`, or none while the cache is down."""
    try:
        found = caches[alias].get_many(keys)
    except CACHE_ERRORS as exc:
        report_cache(alias, exc)
        return {}
    report_cache(alias, None)
    return found


def cache_set_many(alias: str, values: dict, timeout: int = CACHE_SECONDS) -> None:
    try:
        caches[alias].set_many(values, timeout)
    except CACHE_ERRORS as exc:
        report_cache(alias, exc)


T = TypeVar("T")
Stamp = Callable[..., tuple[str, datetime] | None]


def digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def fragment(
    parts: tuple,
    render: Callable[[], T],
    *,
    store: bool = True,
    keep: Callable[[T], bool] = lambda value: True,
) -> T:
    """The cached value for `parts`, or `render()`'s, kept for the next reader if
    `store` and `keep(value)`."""
    if not store:
        return render()
    return once(f"fragment:{digest(*parts)}", render, keep=keep)


def once(key: str, render: Callable[[], T], *, keep: Callable[[T], bool]) -> T:
    """The value cached at `key`, or `render()`'s, kept if `keep(value)`.

    One render per key at a time in a process: when a busy topic changes, the
    threads that miss its new version together wait for the first one's render
    instead of each making their own (and use it even if the cache is down).
    """
    value = cache_get(key)
    if value is not None:
        return value
    with _flights_lock:
        flight = _flights.setdefault(key, _Flight())
    try:
        with flight.lock:
            if flight.done:
                return flight.value
            value = cache_get(key)
            if value is None:
                value = render()
                if keep(value):
                    cache_set(key, value)
            flight.value, flight.done = value, True
    finally:
        # Later readers go to the cache (or render anew a value not kept).
        with _flights_lock:
            if _flights.get(key) is flight:
                del _flights[key]
    return value


class _Flight:
    """A render in progress, shared by the threads waiting for it."""

    __slots__ = ("lock", "value", "done")

    def __init__(self):
        self.lock = threading.Lock()
        self.value, self.done = None, False


_flights: dict[str, _Flight] = {}
_flights_lock = threading.Lock()


def canonical_path(request) -> str:
    """The path with its query in one spelling: `?page=1&`, `?pag%65=1` and
    `?page=1` name one page, not three cache entries."""
    return f"{request.path}?{urlencode(sorted(request.GET.lists()), doseq=True)}"


def cacheable(request, params: frozenset[str]) -> bool:
    """Known query parameters, once each, a page number plainly written.

    `?x=<random>`, `?page=007` or a repeated parameter would otherwise store
    endless copies of one page and push everything else out of the cache.
    """
    page = request.GET.get("page", "1")
    return (
        request.GET.keys() <= params
        and all(len(values) == 1 for _, values in request.GET.lists())
        and page.isascii()
        and page.isdigit()
        and str(int(page)) == page
    )


def cached_for_anonymous(stamp: Stamp, *, params: frozenset[str] = frozenset()):
    """Serve a GET view's 200 pages to anonymous readers from the cache, with 304s.

    `stamp(**view_kwargs)` gives (version, last_modified), or None for a 404;
    `params` are the query parameters the page understands.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, **kwargs):
            if request.user.is_authenticated:
                return view(request, **kwargs)
            found = stamp(**kwargs)
            if found is None:
                raise Http404("Not found.")
            return serve_cached(
                request, *found, lambda: view(request, **kwargs), params=params
            )

        return wrapper

    return decorator


def serve_cached(
    request,
    version: str,
    last_modified: datetime,
    render: Callable[[], HttpResponse],
    *,
    params: frozenset[str],
) -> HttpResponse:
    """The response `render()` gives for this URL at this `version`: a 304 when
    the client holds it, else the stored bytes, else rendered and stored.

    Only the gzip copy is kept (see `stored_page`); a client that does not
    take gzip gets it inflated, about 0.1 ms for a thread page.
    """
    key = digest(version, canonical_path(request))
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    etag = f'"{key[:32]}{"-gz" if gzipped else ""}"'
    modified = int(last_modified.timestamp())
    not_modified = get_conditional_response(request, etag=etag, last_modified=modified)
    if not_modified is not None:
        return _mark(not_modified, etag, modified)
    stored = stored_page(request, version, render, params=params)
    if isinstance(stored, HttpResponse):
        return stored
    compressed, content_type = stored
    response = HttpResponse(
        compressed if gzipped else inflate(compressed), content_type=content_type
    )
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    return _mark(response, etag, modified)


def stored_page(
    request,
    version: str,
    render: Callable[[], HttpResponse],
    *,
    params: frozenset[str],
) -> tuple[bytes, str] | HttpResponse:
    """The stored (gzipped bytes, content type) of this URL at `version`,
    rendered once per process when absent; or the response itself when it may
    not be stored (unknown parameters, not a 200, something of the reader's).

    Only the gzip copy is kept, made once when the response is stored (a
    fifth of the bytes, so a cache of 10,000 pages stays near 150 MB a worker).
    Compressing is safe here (no BREACH) because a stored response holds no
    secret: responses that set a cookie, use a CSRF token or show a message
    are never stored.
    """
    fresh: list[HttpResponse] = []

    def make() -> tuple[bytes, str] | None:
        response = render()
        if not (cacheable(request, params) and is_shareable(request, response)):
            fresh.append(response)
            return None
        compressed = gzip.compress(response.content, GZIP_LEVEL, mtime=0)
        return compressed, response["Content-Type"]

    key = f"response:{digest(version, canonical_path(request))}"
    if not cacheable(request, params):
        return render()
    stored = once(key, make, keep=lambda value: value is not None)
    if stored is None:
        # This thread's render could not be stored; a thread that waited on
        # another's renders its own.
        return fresh[0] if fresh else render()
    return stored


@lru_cache(maxsize=64)
def inflate(compressed: bytes) -> bytes:
    """A stored page as sent to a reader who takes no gzip, or filled for a
    signed-in one. The last few dozen are kept inflated (a few MB a process):
    the pages of a busy debate are asked for over and over, and inflating
    one costs more than the rest of its answer."""
    return zlib.decompress(compressed, wbits=31)


def is_shareable(request, response: HttpResponse) -> bool:
    """A 200 that carries nothing of this reader's: no cookie, token or message."""
    messages = getattr(request, "_messages", None)
    return (
        response.status_code == 200
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not getattr(messages, "used", False)
    )


def _mark(response: HttpResponse, etag: str, modified: int) -> HttpResponse:
    response.headers["ETag"] = etag
    response.headers["Last-Modified"] = http_date(modified)
    # Browsers and proxies may keep it but must ask again; signed-in pages differ.
    patch_cache_control(response, public=True, max_age=0, must_revalidate=True)
    patch_vary_headers(response, ["Cookie", "Accept-Encoding"])
    return response
