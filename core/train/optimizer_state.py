"""The optimiser's state, carried from one run to the next with the adapter it trained.

The nightly schedule continues the adapter in use for a short run every night (17 steps of
B ≈ 32 at σ ≈ 1.08 on 540 records, at the defaults). Adam started afresh each night forgets
its moment estimates: with gradients dominated by the DP noise its first steps are nearly
``lr · sign(noise)`` for every coordinate (step 1 exactly so), where a run that goes on
averages the noise over ~10 steps (β1 = 0.9) — a fresh start puts about four times the noise
variance into each night's 17 steps. Kept beside the adapter, the state makes the nights one
continuous Adam run, which is what "many small noisy steps" needs to pay off.

The state is computed from the noised, clipped gradients only (DP-SGD adds the noise before
the optimiser sees a gradient), so keeping it is post-processing: it costs no privacy, and it
follows its adapter everywhere the adapter goes — forgotten, rolled back or pruned with it,
and never used by a run from the base model (privacy/METHOD.md).

A finished run writes ``optimizer.json`` (what the state fits: backend, optimiser, each
parameter's name and shape), the backend's own file and the last raw iterate (the adapter
itself is the average of the iterates: ``averaging``) into the adapter's format folder; the
next run reads them only when that description matches its own, and starts afresh otherwise
(another backend, LoRA layout or optimiser). Only the adapter in use keeps its state
(``strip``, called when older versions are pruned): a rollback starts the optimiser afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from persona.core.atomic import atomic_write_text
from persona.core.train import averaging

META = "optimizer.json"
FORMAT = "persona-optimizer-state/2"  # 2: with the last raw iterate
# The backends' state files (dp_torch, dp_mlx) and the last raw iterate (averaging.ITERATE_FILE);
# ``strip`` removes whichever is there.
STATE_FILES = ("optimizer.pt", "optimizer.safetensors", averaging.ITERATE_FILE)


def describe(backend: str, optimizer: str, shapes: Mapping[str, tuple[int, ...]]) -> dict:
    """What a saved state fits: a run continues it only when its own description is equal."""
    return {"format": FORMAT, "backend": backend, "optimizer": optimizer,
            "parameters": [[name, [int(n) for n in shape]] for name, shape in shapes.items()]}


def save(folder: Path, description: dict, write: Callable[[Path], None]) -> None:
    """``write(folder)`` writes the backend's state file; the description goes beside it,
    last, so a state file without its description (a crash in between) is never read."""
    folder = Path(folder)
    write(folder)
    atomic_write_text(folder / META, json.dumps(description, indent=1) + "\n")


def fits(folder: Path | None, description: dict) -> bool:
    """True when ``folder`` holds a state saved for exactly ``description``."""
    if folder is None:
        return False
    try:
        saved = json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return saved == json.loads(json.dumps(description))


def strip(version: Path) -> None:
    """Remove the optimiser state from each format folder of an adapter version (its
    description first, so a half-removed state is never read)."""
    version = Path(version)
    if not version.is_dir():
        return
    for folder in [version, *(p for p in version.iterdir() if p.is_dir())]:
        (folder / META).unlink(missing_ok=True)
        for name in STATE_FILES:
            (folder / name).unlink(missing_ok=True)
