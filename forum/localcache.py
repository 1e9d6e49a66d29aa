"""The default cache: each worker's memory, in front of files every worker shares.

`manage.py serve` runs several worker processes, and local memory is each
one's own: a page one worker rendered, the others rendered again, so readers
spread over a long thread missed twice as often as they had to. Stored pages
(keys starting with `response:`, forum.caching.stored_page) are therefore
also written to a directory on this machine, each a file written whole and
renamed into place, its expiry as its modification time. A worker that does
not hold a page in memory reads it from there (tens of microseconds, from the
operating system's page cache) before rendering it.

Nothing needs invalidating: every page key holds the topic's version, so a
change makes new keys and old files expire (CACHE_SECONDS). Every few hundred
writes a worker deletes expired files, and the oldest ones past `MAX_FILES`.
With Redis configured the default cache is shared already and this is unused.
"""

import hashlib
import os
import pickle
import tempfile
import time
from itertools import count
from pathlib import Path

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

SHARED_PREFIX = "response:"
SWEEP_EVERY = 500


class SharedLocalCache(LocMemCache):
    def __init__(self, name, params):
        super().__init__(name, params)
        options = params.get("OPTIONS", {})
        self._dir = Path(options["DIRECTORY"])
        self._max_files = int(options.get("MAX_FILES", 20_000))
        self._writes = count(1)

    def _path(self, key: str, version=None) -> Path:
        name = hashlib.sha256(self.make_key(key, version).encode()).hexdigest()
        return self._dir / f"{name}.page"

    def get(self, key, default=None, version=None):
        value = super().get(key, self, version)
        if value is not self:
            return value
        if not key.startswith(SHARED_PREFIX):
            return default
        try:
            with open(self._path(key, version), "rb") as file:
                expiry = os.fstat(file.fileno()).st_mtime
                if expiry <= time.time():
                    return default
                value = pickle.loads(file.read())
        except (OSError, pickle.UnpicklingError, EOFError):
            return default
        super().set(key, value, max(1, int(expiry - time.time())), version)
        return value

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        super().set(key, value, timeout, version)
        if key.startswith(SHARED_PREFIX):
            self._write(key, value, self.get_backend_timeout(timeout), version)

    def delete(self, key, version=None):
        deleted = super().delete(key, version)
        if key.startswith(SHARED_PREFIX):
            try:
                self._path(key, version).unlink()
                return True
            except OSError:
                pass
        return deleted

    def clear(self):
        super().clear()
        for path in self._files():
            path.unlink(missing_ok=True)

    def _write(self, key, value, expiry, version) -> None:
        """The value in a file of its own, renamed into place whole: a reader
        sees the old file or the new one. A disk that refuses only costs a
        render in another worker."""
        if expiry is None:  # never expires: only memory keeps it
            return
        path = self._path(key, version)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self._dir, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(pickle.dumps(value, self.pickle_protocol))
                os.utime(temporary, (expiry, expiry))
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            return
        if next(self._writes) % SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> int:
        """Delete expired files, then the soonest to expire past MAX_FILES;
        how many were deleted."""
        now, kept, deleted = time.time(), [], 0
        for path in self._files():
            try:
                expiry = path.stat().st_mtime
            except OSError:
                continue
            if expiry <= now:
                path.unlink(missing_ok=True)
                deleted += 1
            else:
                kept.append((expiry, path))
        kept.sort()
        for _, path in kept[: max(0, len(kept) - self._max_files)]:
            path.unlink(missing_ok=True)
            deleted += 1
        return deleted

    def _files(self) -> list[Path]:
        try:
            return [Path(entry.path) for entry in os.scandir(self._dir)]
        except OSError:
            return []
