"""Flood control: counters in Django's cache, shared by every process that shares the cache.

A limit such as "30/h" is a counter that starts at someone's first action and
expires an hour later; past 30 the action waits until it expires. With a count
of 1 ("1/10s") that is exact: no two actions closer than ten seconds. The cache
must be one all workers use (Redis in production): the local-memory default
keeps a count per process. Rates live in settings.STANDPOINT_RATE_LIMITS.
"""

import contextlib
import ipaddress
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from .caching import digest

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
        if not match or int(match[1]) < 1 or match[2] == "0":
            raise ImproperlyConfigured(
                f"Rate {part.strip()!r} is not like “30/h” or “1/10s” "
                "(a count, a slash, an optional number and one of s, m, h, d)."
            )
        count, number, unit = int(match[1]), int(match[2] or 1), match[3]
        rates.append(Rate(count, number * UNITS[unit]))
    return tuple(rates)


def rates(name: str) -> tuple[Rate, ...]:
    return parse_rates(settings.STANDPOINT_RATE_LIMITS.get(name, ""))


def _keys(name: str, rate: Rate, who: tuple) -> tuple[str, str]:
    key = f"limit:{name}:{rate}:{digest(*who)}"
    return key, f"{key}:until"


def _retry_after(until_key: str, rate: Rate) -> int:
    until = cache.get(until_key) or time.time() + rate.seconds
    return max(1, math.ceil(until - time.time()))


def take(name: str, *who) -> None:
    """Count one action by `who`, or raise Limited (counting nothing) if over a rate."""
    counted = []
    for rate in rates(name):
        key, until_key = _keys(name, rate, who)
        cache.add(until_key, time.time() + rate.seconds, rate.seconds)
        cache.add(key, 0, rate.seconds)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, rate.seconds)
            count = 1
        counted.append(key)
        if count > rate.count:
            _uncount(counted)
            raise Limited(_retry_after(until_key, rate))


def give_back(name: str, *who) -> None:
    """Undo take(): the action did not happen after all (the form was refused)."""
    _uncount(_keys(name, rate, who)[0] for rate in rates(name))


def _uncount(keys) -> None:
    for key in keys:
        with contextlib.suppress(ValueError):  # expired: nothing to give back
            cache.decr(key)


def check(name: str, *who) -> None:
    """Raise Limited if `who` is already at a rate's count; counts nothing."""
    for rate in rates(name):
        key, until_key = _keys(name, rate, who)
        if (cache.get(key) or 0) >= rate.count:
            raise Limited(_retry_after(until_key, rate))


def record(name: str, *who) -> None:
    """Count an action that already happened (a failed sign-in), whatever the total."""
    for rate in rates(name):
        key, until_key = _keys(name, rate, who)
        cache.add(until_key, time.time() + rate.seconds, rate.seconds)
        if not cache.add(key, 1, rate.seconds):
            try:
                cache.incr(key)
            except ValueError:
                cache.add(key, 1, rate.seconds)


def clear(name: str, *who) -> None:
    cache.delete_many([k for rate in rates(name) for k in _keys(name, rate, who)])


def client_address(request: HttpRequest) -> str:
    """The client's IP: REMOTE_ADDR, or the nearest X-Forwarded-For hop not a trusted proxy.

    X-Forwarded-For is read only when REMOTE_ADDR is one of
    STANDPOINT_TRUSTED_PROXIES: anyone can send the header, only a proxy of
    ours appends the address it saw.
    """
    address = request.META.get("REMOTE_ADDR", "")
    trusted = [ipaddress.ip_network(n) for n in settings.STANDPOINT_TRUSTED_PROXIES]
    if not trusted:
        return address
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    while _is_trusted(address, trusted) and hops:
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed hop: keep the last address a proxy vouched for
        address = hop
    return address


def _is_trusted(address: str, trusted) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
