"""The person's adapters: the current one, the last few before it, promotion and rollback.

    adapters/versions/<version>/   one trained adapter: peft/ and/or mlx/, and meta.json
    adapters/current  ->  versions/<version>     (a symbolic link)

Promotion and rollback replace the ``current`` link with ``os.replace``, which is atomic: a
reader (the LLM backend) sees the old adapter or the new one, never a mix. The newest
``keep`` versions stay for ``persona rollback``; older ones are deleted. Only the current
version keeps the optimiser state its run left (core/train/optimizer_state.py): the next
night goes on with it, and a rollback starts the optimiser afresh.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from persona.core.atomic import atomic_write_text
from persona.core.errors import PersonaError
from persona.core.paths import Home
from persona.core.train import optimizer_state

KEEP_VERSIONS = 4  # the current adapter and three to roll back to


class AdapterError(PersonaError):
    """An adapter cannot be promoted or rolled back."""


@dataclass
class AdapterMeta:
    version: str
    created: str
    run_id: str | None = None
    backend: str = "torch"
    base_perplexity: float | None = None
    perplexity: float | None = None  # on the held-out slice when it was promoted
    heldout_tokens: int = 0
    # What those perplexities were measured on (runner.heldout_digest): the next run reuses
    # them instead of measuring again when its held-out slice is the same.
    heldout_digest: str | None = None
    max_record_epsilon: float | None = None  # ledger's worst record after the run (inf: non-private)
    private: bool = True
    previous: str | None = None  # the version it replaced
    # The privacy ledger's anchor after its run (privacy/anchor.py): training continues from
    # this adapter only under a ledger that still contains it (core/train/ledger_binding.py).
    ledger_seq: int | None = None
    ledger_head: str | None = None
    from_base: bool = False  # trained from the base model, not from the adapter before it
    # The base model it was trained for (core/llm/adapter_base.py): catalog name and GGUF
    # sha256; None in adapters promoted before they were recorded.
    base_model: str | None = None
    base_sha256: str | None = None
    notes: list[str] = field(default_factory=list)


class AdapterStore:
    def __init__(self, home: Home, *, keep: int = KEEP_VERSIONS) -> None:
        self.root = home.adapters_dir
        self.current_link = home.adapter_dir
        self.versions_dir = self.root / "versions"
        self.keep = max(1, keep)

    # ------------------------------------------------------------------ reading
    def current_version(self) -> str | None:
        link = self.current_link
        if link.is_symlink():
            target = Path(os.readlink(link))
            return target.name if (self.versions_dir / target.name).is_dir() else None
        return None

    def current_dir(self) -> Path | None:
        version = self.current_version()
        return self.versions_dir / version if version else None

    def versions(self) -> list[str]:
        """Version names, oldest first (names sort by time)."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def meta(self, version: str) -> AdapterMeta | None:
        path = self.versions_dir / version / "meta.json"
        if not path.exists():
            return None
        return AdapterMeta(**json.loads(path.read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ writing
    def new_candidate(self, run_id: str) -> Path:
        """A fresh staging folder for a run's adapter (not visible as a version yet)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        path = self.versions_dir / f".candidate-{stamp}-{run_id[:8]}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def promote(self, candidate: Path, meta: AdapterMeta) -> str:
        """Make ``candidate`` the current adapter; returns its version name."""
        if not candidate.is_dir() or not any(candidate.iterdir()):
            raise AdapterError(f"the candidate adapter {candidate} is empty; nothing to promote")
        version = candidate.name.removeprefix(".candidate-")
        meta.version, meta.previous = version, self.current_version()
        atomic_write_text(candidate / "meta.json", json.dumps(asdict(meta), indent=2))
        final = self.versions_dir / version
        os.replace(candidate, final)
        self._point_to(version)
        self._prune()
        return version

    def discard(self, candidate: Path) -> None:
        shutil.rmtree(candidate, ignore_errors=True)

    def rollback(self) -> str | None:
        """Make the version before the current one current; returns it (None: back to the
        base model, when there is no earlier version)."""
        current = self.current_version()
        if current is None:
            raise AdapterError("there is no trained adapter to roll back; the persona already "
                               "uses the base model")
        versions = self.versions()
        earlier = [v for v in versions if v < current]
        if not earlier:
            self.current_link.unlink()
            return None
        self._point_to(earlier[-1])
        # The rolled-back adapter is kept (not deleted), so a mistaken rollback can be undone
        # by hand, but it is no longer the newest choice.
        return earlier[-1]

    def clean_candidates(self) -> int:
        """Remove staging folders left by runs that died before promotion."""
        if not self.versions_dir.is_dir():
            return 0
        stale = [p for p in self.versions_dir.iterdir() if p.name.startswith(".candidate-")]
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)

    def _point_to(self, version: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".current-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(Path("versions") / version, tmp)
        os.replace(tmp, self.current_link)

    def _prune(self) -> None:
        versions = self.versions()
        current = self.current_version()
        for old in versions[: max(0, len(versions) - self.keep)]:
            if old != current:
                shutil.rmtree(self.versions_dir / old, ignore_errors=True)
        for version in self.versions():
            if version != current:
                optimizer_state.strip(self.versions_dir / version)
