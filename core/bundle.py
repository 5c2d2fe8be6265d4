"""Export a persona into an encrypted bundle, and import one into a new home.

What goes in: settings, the profile and its induction sidecar, every memory with its
embedding, the adapters (with the ``current`` link), the privacy ledger, the person's
choices between replies with their reward model (``preferences/``: they are part of who the
person is, and the bundle is encrypted); recordings only when asked. Never the base model,
logs, checkpoints, caches or lock files. The format and its crypto live in
``privacy.bundle`` (docs/bundle-format.md).

Import is atomic: the bundle is decrypted and checked in full into a hidden folder beside
the target, the memory table is rebuilt there, and only then is the folder renamed into
place. On any failure the folder is deleted and the target is as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from persona.core import __version__
from persona.core.errors import BundleError
from persona.core.llm.identity import base_model_identity
from persona.core.memory import transfer
from persona.core.paths import Home
from persona.core.persona.profile import induced_path
from persona.core.settings import load_settings
from persona.core.train.jobcontrol import RunLock, training_lock_path
from persona.privacy.bundle.format import FORMAT_VERSION, Manifest
from persona.privacy.bundle.kdf import derive_master_key
from persona.privacy.bundle.reader import Unlock, read_bundle_unlocked
from persona.privacy.bundle.writer import write_bundle

MEMORIES_PART = "memories.arrows"
Progress = Callable[[int, int], None]  # (done, total) in bytes; total is an estimate on export


@dataclass
class ExportResult:
    path: Path
    size: int  # bytes of the bundle file
    memories: int
    parts: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class ImportResult:
    home: Path
    memories: int
    parts: list[str] = field(default_factory=list)
    base_model: dict = field(default_factory=dict)
    seconds: float = 0.0


def _skipped(name: str) -> bool:
    # Temporaries (".current-123", ".x.tmp") and lock files belong to a running process.
    return name.startswith(".") or name.endswith(".lock")


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _add_tree(archive, root: Path, prefix: str, count: Callable[[int], None]) -> None:
    """Add the folder ``root`` as ``prefix``/..., in a stable order, symlinks as links."""
    if not root.is_dir():
        return
    archive.add_dir(prefix)
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if _skipped(entry.name):
            continue
        name = f"{prefix}/{entry.name}"
        if entry.is_symlink():
            target = os.readlink(entry)
            if os.path.isabs(target):
                target = os.path.relpath(target, entry.parent)
            archive.add_symlink(name, target)
        elif entry.is_dir():
            _add_tree(archive, entry, name, count)
        elif entry.is_file():
            archive.add_file(name, entry)
            count(entry.stat().st_size)


def export_persona(home: Home, out: str | os.PathLike[str], *, passphrase: str,
                   with_audio: bool = False, progress: Progress | None = None) -> ExportResult:
    """Write the persona of ``home`` into the encrypted bundle ``out`` (a new file)."""
    start = time.perf_counter()
    out = Path(out).expanduser().absolute()
    if out.exists():
        raise BundleError(f"{out} already exists; choose a new file name or delete it first.")
    if not out.parent.is_dir():
        raise BundleError(f"The folder {out.parent} does not exist; create it or choose "
                          f"another place for the bundle.")
    if not home.root.is_dir():
        raise BundleError(f"There is no persona at {home.root} to export; check --home.")
    settings = load_settings(home.settings_file)
    manifest = Manifest(format_version=FORMAT_VERSION, app_version=__version__,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        base_model=base_model_identity(settings), with_audio=with_audio)
    trees = [(home.adapters_dir, "adapters"), (home.privacy_dir, "privacy"),
             (home.root / "preferences", "preferences")]
    if with_audio:
        trees.append((home.audio_dir, "audio"))
    table = transfer.open_table(home.memory_dir)
    total = sum(_tree_size(r) for r, _ in trees if r.is_dir()) + (
        _tree_size(home.memory_dir) if table is not None else 0)
    done = [0]
    rows = [0]

    def count(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], max(total, done[0]))

    def fill(archive) -> None:
        for path in (home.settings_file, home.profile_file, induced_path(home.profile_file)):
            if path.is_file():
                archive.add_file(path.name, path)
        for root, prefix in trees:
            _add_tree(archive, root, prefix, count)
        if table is not None:
            def chunks():
                for piece in transfer.table_ipc_chunks(
                        table, on_rows=lambda n: rows.__setitem__(0, n)):
                    count(len(piece))
                    yield piece
            archive.add_stream(MEMORIES_PART, chunks())
        parts.extend(p.name for p in archive.parts)

    parts: list[str] = []
    try:
        # No training run may change the adapters and the ledger half-way through the copy.
        with RunLock(training_lock_path(home)):
            write_bundle(out, passphrase=passphrase, manifest=manifest, fill=fill)
    except OSError as exc:
        raise BundleError(f"Could not write {out} ({exc}); check the disk has space and the "
                          f"folder is writable. No bundle was left behind.") from exc
    return ExportResult(out, out.stat().st_size, rows[0], parts, time.perf_counter() - start)


def import_persona(src: str | os.PathLike[str], target: str | os.PathLike[str], *,
                   passphrase: str, progress: Progress | None = None) -> ImportResult:
    """Make ``target`` (a new or empty folder) the persona in the bundle ``src``."""
    return import_persona_unlocked(src, target, progress=progress,
                                   unlock=lambda params: derive_master_key(passphrase, params))


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BundleError(f"Cannot import into {target}: it is not empty. Import into a new "
                          f"or empty folder "
                          f"(e.g. --home {target.parent / (target.name + '-imported')}).")
    if not target.parent.is_dir():
        raise BundleError(f"The folder {target.parent} does not exist; create it first.")


def import_persona_unlocked(src: str | os.PathLike[str], target: str | os.PathLike[str], *,
                            unlock: Unlock, progress: Progress | None = None) -> ImportResult:
    """``import_persona`` with the passphrase step given as ``unlock`` (see
    ``persona.privacy.bundle.reader.read_bundle_unlocked``; not reachable from the CLI)."""
    start = time.perf_counter()
    src, target = Path(src).expanduser().absolute(), Path(target).expanduser().absolute()
    _check_target(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.import-", dir=target.parent))
    try:
        manifest = read_bundle_unlocked(src, tmp, unlock=unlock, progress=progress)
        settings = load_settings(tmp / "settings.yaml")
        here = base_model_identity(settings)
        if here != manifest.base_model:
            raise BundleError(
                f"it was made with another base model ({manifest.base_model.get('name')}, "
                f"sha256 {manifest.base_model.get('sha256', '?')[:12]}) than this Persona "
                f"would load ({here['name']}, sha256 {here['sha256'][:12]}); its adapters "
                f"only work on their own model: install that model (or set llm_model to it)")
        rows = 0
        if (tmp / MEMORIES_PART).is_file():
            rows = transfer.restore_table(tmp / MEMORIES_PART, tmp / "memory.lancedb")
            (tmp / MEMORIES_PART).unlink()
        os.rename(tmp, target)  # atomic; replaces an empty folder, fails on a non-empty one
        os.chmod(target, 0o700)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        # Whatever went wrong (also inside LanceDB or Arrow), one clear message.
        if isinstance(exc, Exception):
            raise BundleError(f"Cannot import {src}: {str(exc).rstrip('.')}. Nothing was "
                              f"written to {target}.") from None
        raise
    return ImportResult(target, rows, [p.name for p in manifest.parts], manifest.base_model,
                        time.perf_counter() - start)
