"""CACHE_URL, REDIS_URL and LIMITS_CACHE_URL name a cache by URL: forum.settings reads them."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from forum.settings import cache_from_url

REDIS = "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://:secret@cache.internal:6380/2",
        "rediss://user:secret@cache.example.org:6380/1",
        "unix:///run/redis/redis.sock?db=3",
    ],
)
def test_redis_urls_make_a_redis_cache_at_that_url_with_the_site_prefix_and_timeouts(
    url,
):
    assert cache_from_url(url) == {
        "BACKEND": REDIS,
        "LOCATION": url,
        "KEY_PREFIX": "standpoint",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
    }


@pytest.mark.parametrize(
    ("url", "location"),
    [("locmem://limits", "limits"), ("locmem://", ""), ("locmem://pages", "pages")],
)
def test_locmem_url_names_a_local_memory_cache(url, location, monkeypatch):
    monkeypatch.delenv("CACHE_MAX_ENTRIES", raising=False)
    assert cache_from_url(url) == {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": location,
        # Django's default, 300, holds a twentieth of a long thread's pages.
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }


def test_the_local_memory_cache_size_is_a_setting(monkeypatch):
    monkeypatch.setenv("CACHE_MAX_ENTRIES", "500")
    assert cache_from_url("locmem://")["OPTIONS"] == {"MAX_ENTRIES": 500}


def test_dummy_url_makes_a_cache_that_keeps_nothing():
    assert cache_from_url("dummy://") == {
        "BACKEND": "django.core.cache.backends.dummy.DummyCache"
    }


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("memcached://127.0.0.1:11211", "memcached"),
        ("file:///var/tmp/cache", "file"),
        ("http://cache.example.org/", "http"),
    ],
)
def test_an_unsupported_scheme_is_refused_naming_it(url, scheme):
    with pytest.raises(ImproperlyConfigured) as refused:
        cache_from_url(url)

    assert str(refused.value) == f"CACHE_URL scheme {scheme!r} is not supported."
