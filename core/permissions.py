"""The person's files are private: folders 0700, files 0600, whoever writes them.

Two halves. ``private_umask`` is set once per process (``core/__init__.py``), so that what
LanceDB, Opacus, safetensors and every other library write into the home is created without
group or other bits. ``tighten`` repairs a home made before that (or copied in with a
permissive umask): it walks the folder and clears those bits, and says how many it changed
so that the CLI and the app can tell the person once.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

PRIVATE_UMASK = 0o077  # no group or other bits on anything this process creates
_OPEN_BITS = 0o077


def private_umask() -> int:
    """Set the process umask to ``PRIVATE_UMASK``; return the previous one."""
    return os.umask(PRIVATE_UMASK)


@dataclass
class Tightened:
    """What ``tighten`` changed under ``root``."""

    root: Path
    folders: int = 0
    files: int = 0
    errors: list[str] | None = None

    @property
    def changed(self) -> int:
        return self.folders + self.files

    def message(self) -> str:
        """One sentence for the person (empty when nothing changed)."""
        if not self.changed and not self.errors:
            return ""
        what = []
        if self.folders:
            what.append(f"{self.folders} folder{'s' if self.folders != 1 else ''}")
        if self.files:
            what.append(f"{self.files} file{'s' if self.files != 1 else ''}")
        text = (f"Made {' and '.join(what)} in {self.root} private (other accounts on this "
                "computer could read them; now only you can)." if what else "")
        if self.errors:
            text += (f" {len(self.errors)} path(s) in {self.root} are readable by other accounts "
                     f"and could not be made private, e.g. {self.errors[0]}; change their owner "
                     "or permissions (chmod go-rwx).")
        return text


def tighten(root: Path) -> Tightened:
    """Clear group/other permission bits on ``root`` and everything under it.

    Symbolic links are neither followed nor changed (their target may lie outside the home).
    A path that cannot be changed (another owner) is listed in ``errors``, not raised: the
    rest is still tightened.
    """
    root = Path(root)
    out = Tightened(root=root, errors=[])
    if not root.is_dir() or root.is_symlink():
        return out
    out.folders += _clear(root, out.errors)
    for parent, dirs, files in os.walk(root, followlinks=False):
        for name in dirs:
            out.folders += _clear(Path(parent, name), out.errors)
        for name in files:
            out.files += _clear(Path(parent, name), out.errors)
    return out


def _clear(path: Path, errors: list[str]) -> int:
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or not st.st_mode & _OPEN_BITS:
            return 0
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~_OPEN_BITS)
        return 1
    except FileNotFoundError:
        return 0  # removed while we walked (another process): nothing left to protect
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror or exc}")
        return 0


def open_bits(root: Path) -> list[tuple[str, str]]:
    """Every path under ``root`` (itself included) with group or other bits, and its mode."""
    root = Path(root)
    found = []
    for path in [root, *root.rglob("*")]:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & _OPEN_BITS:
            found.append((str(path), oct(stat.S_IMODE(st.st_mode))))
    return found
