"""The default cache: each worker's memory in front of page files all workers share."""

import os
import time

import pytest

from forum.localcache import SharedLocalCache


def worker(directory, name, **options) -> SharedLocalCache:
    """A cache as one worker process has it: memory of its own, the shared folder."""
    return SharedLocalCache(
        name, {"OPTIONS": {"DIRECTORY": directory, "MAX_ENTRIES": 100, **options}}
    )


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "pages"


def test_a_page_one_worker_stored_is_read_by_another(folder):
    first, second = worker(folder, "first"), worker(folder, "second")

    first.set("response:abc", (b"gzipped page", "text/html"), 60)

    assert second.get("response:abc") == (b"gzipped page", "text/html")
    os.remove(next(folder.iterdir()))  # now held in the second worker's memory too
    assert second.get("response:abc") == (b"gzipped page", "text/html")


def test_only_pages_go_to_the_shared_folder(folder):
    first, second = worker(folder, "first"), worker(folder, "second")

    first.set("fragment:topic", "a topic", 60)

    assert first.get("fragment:topic") == "a topic"
    assert second.get("fragment:topic") is None
    assert not folder.exists() or list(folder.iterdir()) == []


def test_an_expired_page_file_is_not_read(folder):
    first, second = worker(folder, "first"), worker(folder, "second")
    first.set("response:old", b"old page", 60)
    path = next(folder.iterdir())
    os.utime(path, (time.time() - 1, time.time() - 1))

    assert second.get("response:old") is None


def test_a_damaged_page_file_is_a_miss(folder):
    first, second = worker(folder, "first"), worker(folder, "second")
    first.set("response:page", b"page", 60)
    path = next(folder.iterdir())
    expiry = path.stat().st_mtime
    path.write_bytes(b"not a pickle")
    os.utime(path, (expiry, expiry))

    assert second.get("response:page") is None


def test_sweep_deletes_expired_files_then_the_soonest_past_the_limit(folder):
    cache = worker(folder, "sweeper", MAX_FILES=3)
    for n in range(6):
        cache.set(f"response:{n}", n, 100 + n)
    expired = cache._path("response:0")
    os.utime(expired, (time.time() - 5, time.time() - 5))

    deleted = cache.sweep()

    assert deleted == 3  # the expired one, then the two soonest to expire
    left = worker(folder, "reader")
    assert [left.get(f"response:{n}") for n in range(6)] == [None, None, None, 3, 4, 5]


def test_clear_empties_memory_and_the_folder(folder):
    first, second = worker(folder, "first"), worker(folder, "second")
    first.set("response:page", b"page", 60)

    first.clear()

    assert first.get("response:page") is None
    assert second.get("response:page") is None
    assert list(folder.iterdir()) == []


def test_a_folder_that_cannot_be_written_only_costs_the_sharing(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("in the way")
    cache = worker(blocked, "alone")

    cache.set("response:page", b"page", 60)

    assert cache.get("response:page") == b"page"  # still in this worker's memory
