"""Flood control: counters in Django's cache, shared by every process that shares the cache.

A limit such as "30/h" is a counter that starts at someone's first action and
expires an hour later; past 30 the action waits until it expires. With a count
of 1 ("1/10s") that is exact: no two actions closer than ten seconds. The cache
must be one all workers use (Redis in production): the local-memory default
keeps a count per process. Rates live in settings.STANDPOINT_RATE_LIMITS.

counted() is the way in: it counts an action and gives the count back if the
action fails, so a refused form or a busy database costs the person nothing.
"""

import ipaddress
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from .caching import digest

# Its own cache: page caching must never evict a count (settings.CACHES).
CACHE = "limits"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    def __str__(self):
        return f"{self.count}/{self.seconds}s"


class Limited(Exception):
    """Over a limit: try again in `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"Rate limited; retry after {retry_after} s.")
        self.retry_after = retry_after


def parse_rates(text: str) -> tuple[Rate, ...]:
    """ "1/10s, 30/h" → two rates; "" or "off" → none."""
    if text.strip().lower() in {"", "off"}:
        return ()
    rates = []
    for part in text.split(","):
        match = RATE.match(part.strip())
        count, number = (int(match[1]), int(match[2] or 1)) if match else (0, 0)
        if count < 1 or number < 1:
            raise ImproperlyConfigured(
                f"Rate {part.strip()!r} is not like “30/h” or “1/10s” "
                "(a count, a slash, an optional number and one of s, m, h, d)."
            )
        rates.append(Rate(count, number * UNITS[match[3]]))
    return tuple(dict.fromkeys(rates))  # the same rate twice would count twice


def rates(name: str) -> tuple[Rate, ...]:
    return parse_rates(settings.STANDPOINT_RATE_LIMITS.get(name, ""))


@dataclass(frozen=True)
class Ticket:
    """What take() counted, so that give_back() undoes exactly that."""

    keys: tuple[tuple[str, str], ...]


def _keys(name: str, rate: Rate, who: tuple) -> tuple[str, str]:
    key = f"limit:{name}:{rate}:{digest(*who)}"
    return key, f"{key}:until"


def _add(keys: tuple[str, str], rate: Rate, delta: int) -> tuple[int, float]:
    """Add `delta` to a window's count, opening the window if none is; (count, end)."""
    base, until_key = keys
    now = time.time()
    caches[CACHE].add(until_key, now + rate.seconds, rate.seconds)
    until = caches[CACHE].get(until_key) or now + rate.seconds
    # Each window counts under a key of its own: a count that outlives its
    # window by a moment can never carry into the next one.
    count_key = f"{base}:{until!r}"
    caches[CACHE].add(count_key, 0, rate.seconds)
    try:
        count = caches[CACHE].incr(count_key, delta)
    except ValueError:  # expired between add() and incr()
        count = max(delta, 0)
        caches[CACHE].set(count_key, count, rate.seconds)
    # Django's Redis incr() checks EXISTS, then INCR: a key expiring in between
    # comes back with no expiry, a count that would never end. Restate the window.
    caches[CACHE].touch(count_key, max(1, math.ceil(until - now)))
    return count, until


def take(name: str, *who) -> Ticket:
    """Count one action by `who`, or raise Limited (counting nothing) if over a rate."""
    counted = []
    for rate in rates(name):
        keys = _keys(name, rate, who)
        count, until = _add(keys, rate, 1)
        counted.append((keys, rate))
        if count > rate.count:
            _uncount(counted)
            raise Limited(max(1, math.ceil(until - time.time())))
    return Ticket(keys=tuple((keys, rate) for keys, rate in counted))


def give_back(ticket: Ticket | None) -> None:
    """Undo take(): the action did not happen after all (the form was refused)."""
    if ticket is not None:
        _uncount(ticket.keys)


def _uncount(counted) -> None:
    for keys, rate in counted:
        if caches[CACHE].get(keys[1]) is not None:  # a window since closed owes nothing
            _add(keys, rate, -1)


@contextmanager
def counted(name: str, *who):
    """Count one action by `who` for the block; a block that raises gives it back.

    Raises Limited, counting nothing, when `who` is over a rate.
    """
    ticket = take(name, *who)
    try:
        yield
    except BaseException:
        give_back(ticket)
        raise


def clear(name: str, *who) -> None:
    """Close `who`'s windows: the next action opens new ones, counted from zero."""
    caches[CACHE].delete_many(
        [k for rate in rates(name) for k in _keys(name, rate, who)]
    )


def client_address(request: HttpRequest) -> str:
    """The client's IP: REMOTE_ADDR, or the nearest X-Forwarded-For hop not a trusted proxy.

    X-Forwarded-For is read only when REMOTE_ADDR is one of
    STANDPOINT_TRUSTED_PROXIES: anyone can send the header, only a proxy of
    ours appends the address it saw. "unix" trusts a proxy on a Unix socket,
    where REMOTE_ADDR is empty.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.STANDPOINT_TRUSTED_PROXIES
    trusted = [ipaddress.ip_network(n) for n in proxies if n != "unix"]
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if not remote and "unix" in proxies:
        address = _ip(hops.pop())
        if address is None:
            return remote
    else:
        address = _ip(remote)
        if address is None:
            return remote
    while any(address in network for network in trusted) and hops:
        hop = _ip(hops.pop())
        if hop is None:
            break  # a malformed hop: keep the last address a proxy vouched for
        address = hop
    return str(address)


def client_key(request: HttpRequest) -> str:
    """Who a per-address limit counts: the address, or its /64 for IPv6.

    One IPv6 home or server gets a whole /64 and could rotate through it.
    """
    address = client_address(request)
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: maybe with a port, maybe IPv4 mapped into IPv6."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:4711
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.9:4711
        text = text.split(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip
