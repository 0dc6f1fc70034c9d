# SPDX-License-Identifier: MIT
"""Build-once cache entries that are safe under concurrency and corruption.

Every cache nomul keeps (the compiled Verilator harnesses, the cocotb simulator builds) is a
directory ``<root>/<key>/`` made by :class:`CacheEntry`:

- the entry is built by one process at a time: a file lock ``<root>/<key>.lock`` is held
  while the entry is checked and, if needed, built, so a second process asking for the same
  entry waits for it instead of building it twice or reading it half-made;
- the build runs in a private temporary directory ``<root>/.<key>.tmp-*``, which is published
  by one atomic :func:`os.rename` once the build succeeded; a failed build leaves nothing;
- the last file written before publishing is the stamp ``STAMP`` (JSON: the key and the
  sha256 of every required file), so an entry without a valid stamp, with a required file
  missing or with a file whose hash differs (a truncated executable) is broken: it is moved
  aside, deleted and rebuilt, never used. :meth:`CacheEntry.verify` repeats the hash check
  right before an executable is run (hashing a few MB takes milliseconds).

Temporary and moved-aside directories left by a killed process are deleted by the next
process that takes the entry's lock (only the lock holder builds, so none is in use).
The cache root is ``$NOMUL_CACHE`` or ``~/.cache/nomul`` (:func:`cache_root`).
"""

import glob
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["STAMP", "CacheEntry", "cache_root", "cached_entry", "file_sha256"]

STAMP = "STAMP"
_FORMAT = 1


def cache_root():
    """The root of every nomul cache: ``$NOMUL_CACHE`` or ``~/.cache/nomul``."""
    return Path(os.environ.get("NOMUL_CACHE") or Path.home() / ".cache" / "nomul")


def file_sha256(path):
    """The hex sha256 of the file at ``path`` (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CacheEntry:
    """The cache directory ``<root>/<key>/``, built once by ``build`` and checked before use.

    Parameters
    ----------
    root : path-like
        The directory holding the entries (created when missing).
    key : str
        The entry's name: one path component, not starting with a dot.
    required : sequence of str
        Names (relative to the entry) of the files that must exist after a build; their hashes
        are kept in the stamp and checked by :meth:`problem` and :meth:`verify`.
    """

    def __init__(self, root, key, *, required=()):
        key = str(key)
        if not key or key.startswith(".") or "/" in key or os.sep in key or key.endswith(
                ".lock"):
            raise ValueError(f"invalid cache key {key!r}")
        self.root = Path(root)
        self.key = key
        self.required = tuple(str(name) for name in required)
        self.path = self.root / key
        self.lock_path = self.root / f"{key}.lock"

    def __repr__(self):
        return f"CacheEntry({str(self.root)!r}, {self.key!r}, required={self.required!r})"

    def problem(self, names=None):
        """Why the entry cannot be used, or None when it is complete.

        Parameters
        ----------
        names : sequence of str, optional
            Check only these stamped files (default: every file the stamp lists, which
            includes every required file).

        Returns
        -------
        str or None
            A short reason (no stamp, a missing file, a hash mismatch...), None if usable.
        """
        try:
            record = json.loads((self.path / STAMP).read_text())
        except FileNotFoundError:
            return "it has no stamp" if self.path.exists() else "it does not exist"
        except (OSError, ValueError) as error:
            return f"its stamp is unreadable ({error})"
        files = record.get("files") if isinstance(record, dict) else None
        if not isinstance(files, dict) or record.get("key") != self.key:
            return "its stamp belongs to another entry"
        missing = [name for name in (*self.required, *(names or ())) if name not in files]
        if missing:
            return f"its stamp does not list {missing[0]}"
        for name in (files if names is None else names):
            path = self.path / name
            try:
                if not path.is_file():
                    return f"{name} is missing"
                if file_sha256(path) != files[name]:
                    return f"{name} differs from its stamp (truncated or overwritten)"
            except OSError as error:
                return f"{name} is unreadable ({error})"
        return None

    def complete(self):
        """Whether the entry exists with a valid stamp and every stamped file intact."""
        return self.problem() is None

    def verify(self, *names):
        """Whether the stamped files ``names`` (default all) still have their stamped hashes."""
        return self.problem(names or None) is None

    @contextmanager
    def locked(self):
        """Hold the entry's file lock; shows a progress step while another process holds it."""
        from filelock import FileLock, Timeout

        from .progress import step

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            with step(f"waiting for another nomul process building {self.path}"):
                lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def get(self, build, *, description=None):
        """The entry's path, built by ``build(directory)`` unless already complete.

        Parameters
        ----------
        build : callable
            Called with a fresh private directory to fill; must raise on failure. Called only
            when the entry is missing or broken, with the lock held.
        description : str, optional
            The progress step shown while building.

        Returns
        -------
        pathlib.Path
            ``<root>/<key>``, complete (its stamp checked under the lock).

        Raises
        ------
        Exception
            Whatever ``build`` raised (the temporary directory is deleted first), or
            :class:`FileNotFoundError` when ``build`` did not make a required file.
        """
        from .progress import step

        with self.locked():
            if self.complete():
                return self.path
            self._clear()
            work = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{self.key}.tmp-"))
            try:
                os.chmod(work, 0o755)
                with step(description or f"building {self.path}"):
                    build(work)
                self._write_stamp(work)
                self._publish(work)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
        return self.path

    def invalidate(self):
        """Delete the entry (under its lock), so the next :meth:`get` rebuilds it."""
        with self.locked():
            self._clear()

    def _write_stamp(self, work):
        files = {}
        for name in self.required:
            if not (work / name).is_file():
                raise FileNotFoundError(f"the build of {self.key} made no {name}")
            files[name] = file_sha256(work / name)
        record = {"format": _FORMAT, "key": self.key, "files": files}
        (work / STAMP).write_text(json.dumps(record, indent=1) + "\n")

    def _publish(self, work):
        try:
            os.rename(work, self.path)
        except OSError:       # something reappeared there (not made by nomul): move it aside
            self._clear()
            os.rename(work, self.path)

    def _clear(self):
        """Remove a broken entry and any leftovers of killed builds; the lock must be held."""
        if self.path.exists() or self.path.is_symlink():
            aside = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{self.key}.old-"))
            os.rename(self.path, aside / "entry")    # atomic: readers see it or nothing
        for prefix in (f".{self.key}.tmp-", f".{self.key}.old-"):
            for leftover in self.root.glob(glob.escape(prefix) + "*"):
                shutil.rmtree(leftover, ignore_errors=True)


def cached_entry(root, key, build, *, required=(), description=None):
    """``CacheEntry(root, key, required=required).get(build, description=description)``."""
    return CacheEntry(root, key, required=required).get(build, description=description)
