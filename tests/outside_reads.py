"""Catch a test that opens a file outside the places a fresh clone is sure to have.

A clone of the public repository has no folder beside it (nor a developer's home): a test
that reads from there passes here and fails everywhere else. An audit hook
(``sys.addaudithook``; the "open" event of ``open()``, ``os.open`` and the import system)
records every existing path opened outside the allowed roots; tests/conftest.py fails the
test during which it happened. Native code (Qt, LanceDB, llama.cpp) opens files without the
event, and subprocesses have their own interpreter: tests/test_self_contained.py scans the
sources of tests/ and benchmarks/ for such paths as well.

Allowed: the repository, the Python installation and its environment, temporary folders,
the per-user cache (converted and downloaded model files) and the system's own folders.
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
import threading
from pathlib import Path

import platformdirs

SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev",
          "/run", "/var", "/tmp", "/opt", "/System", "/Library", "/private", "/nix")


def allowed_roots(repo: Path) -> tuple[str, ...]:
    """Folders whose files any test may open (each with a trailing separator)."""
    roots = {str(repo), sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             tempfile.gettempdir(), platformdirs.user_cache_dir(), site.getusersitepackages(),
             *SYSTEM}
    roots |= {os.path.realpath(r) for r in roots}
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots if r and r != os.sep))


class OutsideReads:
    """Records existing files opened outside ``allowed_roots`` (thread-safe; cheap: a prefix
    test per open, and a stat only for a path outside)."""

    def __init__(self, repo: Path):
        self.roots = allowed_roots(repo)
        self._seen: list[str] = []
        self._lock = threading.Lock()
        self._busy = threading.local()  # the hook's own os calls must not re-enter it

    @classmethod
    def install(cls, repo: Path) -> OutsideReads:
        recorder = cls(repo)
        sys.addaudithook(recorder._hook)  # cannot be removed: lives as long as the session
        return recorder

    def take(self) -> list[str]:
        """The paths recorded since the last call, and forget them."""
        with self._lock:
            seen, self._seen = self._seen, []
        return seen

    def _hook(self, event: str, args: tuple) -> None:
        if event != "open" or getattr(self._busy, "on", False):
            return
        path = args[0] if args else None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):  # a file descriptor, or None
            return
        self._busy.on = True
        try:
            full = os.path.abspath(path)
            if not (full + os.sep).startswith(self.roots) and os.path.exists(full):
                with self._lock:
                    self._seen.append(full)
        except Exception:  # an audit hook must never break the open it watches
            pass
        finally:
            self._busy.on = False
