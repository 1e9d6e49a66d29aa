"""Flood control: counters every worker process shares, in the database by default.

A limit such as "30/h" is a counter that starts at someone's first action and
closes an hour later; past 30 the action waits until it closes. With a count
of 1 ("1/10s") that is exact: no two actions closer than ten seconds. Rates
live in settings.STANDPOINT_RATE_LIMITS.

Where the counts live (settings.STANDPOINT_LIMIT_COUNTS):

- "database", the default: one row per window in RateCount, counted with one
  atomic upsert (INSERT … ON CONFLICT … RETURNING), so the workers of
  `manage.py serve`, or of several machines on one database, count together
  with nothing else to run.
- "cache", when a Redis serves the `limits` cache: counted there, and in the
  database while Redis does not answer, so a cache that is down never means
  "no limit".

counted() is the way in: it counts an action and gives the count back if the
action fails, so a refused form or a busy database costs the person nothing.
"""

import ipaddress
import logging
import math
import random
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.http import HttpRequest

from .caching import CACHE_ERRORS, digest, report_cache

logger = logging.getLogger(__name__)

# Its own cache: page caching must never evict a count (settings.CACHES).
CACHE = "limits"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
# About one count in this many also deletes windows that closed.
SWEEP_ONE_IN = 500


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
class Count:
    """One window's count after an action: where it is kept and when it closes."""

    store: "Store"
    key: str
    rate: Rate
    count: int
    until: float
    # The pending transaction the count was written in, if any (DatabaseStore).
    marker: object = None


@dataclass(frozen=True)
class Ticket:
    """What take() counted, so that give_back() undoes exactly that."""

    counts: tuple[Count, ...]


class DatabaseStore:
    """Counts in RateCount rows: one atomic upsert per count, on SQLite and PostgreSQL."""

    def add(self, key: str, rate: Rate) -> Count:
        now = time.time()
        table = connection.ops.quote_name("forum_ratecount")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (name, count, until) VALUES (%s, 1, %s) "
                f"ON CONFLICT (name) DO UPDATE SET "
                f"count = CASE WHEN {table}.until <= %s THEN 1 "
                f"ELSE {table}.count + 1 END, "
                f"until = CASE WHEN {table}.until <= %s THEN EXCLUDED.until "
                f"ELSE {table}.until END "
                f"RETURNING count, until",
                [key, now + rate.seconds, now, now],
            )
            count, until = cursor.fetchone()
            if random.randrange(SWEEP_ONE_IN) == 0:
                cursor.execute(f"DELETE FROM {table} WHERE until < %s", [now])
        return Count(self, key, rate, count, until, marker=_pending_marker())

    def remove(self, count: Count) -> None:
        # A count written in a transaction since rolled back is gone already.
        if count.marker is not None and not _still_pending(count.marker):
            return
        table = connection.ops.quote_name("forum_ratecount")
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET count = count - 1 "
                f"WHERE name = %s AND until = %s AND count > 0",
                [count.key, count.until],
            )

    def clear(self, keys: list[str]) -> None:
        from .models import RateCount

        RateCount.objects.filter(name__in=keys).delete()


def _pending_marker() -> object | None:
    """A token that lives as long as the current transaction's pending writes.

    Django drops on-commit callbacks registered in a savepoint or transaction
    that rolls back; while this one is listed, the count written with it is
    still there to give back.
    """
    if not connection.in_atomic_block:
        return None

    def marker() -> None:
        pass

    transaction.on_commit(marker)
    return marker


def _still_pending(marker: object) -> bool:
    return connection.in_atomic_block and any(
        func is marker for _, func, _ in connection.run_on_commit
    )


class CacheStore:
    """Counts in the `limits` cache (Redis): a window's end and its count, two keys."""

    def add(self, key: str, rate: Rate, delta: int = 1) -> Count:
        until_key = f"{key}:until"
        counts, now = caches[CACHE], time.time()
        counts.add(until_key, now + rate.seconds, rate.seconds)
        until = counts.get(until_key) or now + rate.seconds
        # Each window counts under a key of its own: a count that outlives its
        # window by a moment can never carry into the next one.
        count_key = f"{key}:{until!r}"
        counts.add(count_key, 0, rate.seconds)
        try:
            count = counts.incr(count_key, delta)
        except ValueError:  # expired between add() and incr()
            count = max(delta, 0)
            counts.set(count_key, count, rate.seconds)
        # Django's Redis incr() checks EXISTS, then INCR: a key expiring in
        # between comes back with no expiry, a count that would never end.
        counts.touch(count_key, max(1, math.ceil(until - now)))
        return Count(self, key, rate, count, until)

    def remove(self, count: Count) -> None:
        if caches[CACHE].get(f"{count.key}:until") is not None:
            self.add(count.key, count.rate, -1)  # a window since closed owes nothing

    def clear(self, keys: list[str]) -> None:
        caches[CACHE].delete_many([k for key in keys for k in (key, f"{key}:until")])


Store = DatabaseStore | CacheStore
DATABASE, CACHE_STORE = DatabaseStore(), CacheStore()


def _store() -> Store:
    return CACHE_STORE if settings.STANDPOINT_LIMIT_COUNTS == "cache" else DATABASE


def _key(name: str, rate: Rate, who: tuple) -> str:
    return f"limit:{name}:{rate}:{digest(*who)}"


def _add(key: str, rate: Rate) -> Count:
    """Count one action in the configured store; in the database if the cache fails."""
    store = _store()
    if store is DATABASE:
        return DATABASE.add(digest(key), rate)
    try:
        count = store.add(key, rate)
    except CACHE_ERRORS as exc:
        report_cache(CACHE, exc)
        return DATABASE.add(digest(key), rate)
    report_cache(CACHE, None)
    return count


def take(name: str, *who) -> Ticket:
    """Count one action by `who`, or raise Limited (counting nothing) if over a rate."""
    counted = []
    for rate in rates(name):
        count = _add(_key(name, rate, who), rate)
        counted.append(count)
        if count.count > rate.count:
            _uncount(counted)
            raise Limited(max(1, math.ceil(count.until - time.time())))
    return Ticket(counts=tuple(counted))


def give_back(ticket: Ticket | None) -> None:
    """Undo take(): the action did not happen after all (the form was refused)."""
    if ticket is not None:
        _uncount(ticket.counts)


def _uncount(counts) -> None:
    for count in counts:
        try:
            count.store.remove(count)
        except CACHE_ERRORS as exc:
            report_cache(CACHE, exc)


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
    keys = [_key(name, rate, who) for rate in rates(name)]
    DATABASE.clear([digest(key) for key in keys])
    if _store() is CACHE_STORE:
        try:
            CACHE_STORE.clear(keys)
        except CACHE_ERRORS as exc:
            report_cache(CACHE, exc)


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
