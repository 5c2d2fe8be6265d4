"""An orphaned selection is listed, not hidden; the importer reports progress and stops on a
cancel leaving nothing behind (core/models/status.py, importer.py, cache.copy_hashing)."""

from __future__ import annotations

import json
import threading

import pytest

from persona.core.cli import main
from persona.core.models.cache import CopyCancelled, copy_hashing
from persona.core.models.catalog import DEFAULT_LLM, all_models
from persona.core.models.importer import import_gguf
from persona.core.models.status import catalog_states
from persona.core.settings import Settings, load_settings
from tests.core.models.conftest import write_gguf


def _files(cache_dir) -> list[str]:
    root = cache_dir / "models"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "locks" not in p.parts) if root.exists() else []


def _list(home, capsys) -> tuple[dict, str]:
    assert main(["models", "list", "--json", "--home", str(home)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert main(["models", "list", "--home", str(home)]) == 0
    return rows, capsys.readouterr().out


def test_an_imported_model_gone_from_the_cache_is_listed_as_missing(cache_dir, tmp_path, home,
                                                                     capsys):
    chat = write_gguf(tmp_path / "chat.gguf")
    assert main(["models", "import", str(chat)]) == 0
    assert main(["models", "use", "tiny-test-chat", "--home", str(home)]) == 0
    capsys.readouterr()

    # The file is gone, its registry entry is not: listed, marked, with the way back.
    for f in (cache_dir / "models" / "files").glob("*.gguf"):
        f.unlink()
    rows, text = _list(home, capsys)
    row = rows["tiny-test-chat"]
    assert row["selected"] and not row["installed"] and row["status"] == "selected, missing"
    assert f"persona models import {chat.resolve()}" in row["problem"]
    assert "! tiny-test-chat" in text and "! tiny-test-chat is selected as the language " \
                                           "model but is not installed" in text

    # The registry is gone too (the cache was cleared): still listed, as an orphan.
    (cache_dir / "models" / "registry.json").unlink()
    rows, text = _list(home, capsys)
    row = rows["tiny-test-chat"]
    assert row["orphan"] and row["role"] == "llm" and "title" not in row
    assert "no longer in the catalog" in row["problem"]
    assert "--name tiny-test-chat" in row["problem"]
    assert "(not in the catalog)" in text
    assert load_settings(home / "settings.yaml").llm == "tiny-test-chat"  # nothing rewritten


def test_states_of_the_default_settings():
    states = {s.name: s for s in catalog_states(Settings())}
    assert not any(s.orphan for s in states.values())
    assert states[DEFAULT_LLM].in_use and states["whisper-base"].in_use
    assert not states["whisper-tiny.en"].selected
    folder = catalog_states(Settings(llm_model="/somewhere"))
    assert next(s for s in folder if s.name == DEFAULT_LLM).status.startswith(
        "selected (the llm_model folder")


def test_import_reports_progress_in_bytes(cache_dir, tmp_path):
    big = write_gguf(tmp_path / "big.gguf", rows=400_000)  # 12.8 MB: four 4 MB blocks
    seen = []
    spec = import_gguf(big, progress=lambda done, total: seen.append((done, total)))
    size = big.stat().st_size
    assert len(seen) == 4 and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert spec.size == size


def test_a_cancelled_import_leaves_nothing(cache_dir, tmp_path):
    big = write_gguf(tmp_path / "big.gguf", rows=400_000)
    cancel = threading.Event()
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        cancel.set()  # the person presses Cancel after the first block

    with pytest.raises(CopyCancelled, match="cancelled; nothing was kept"):
        import_gguf(big, progress=progress, cancel=cancel)
    assert len(seen) == 1
    assert _files(cache_dir) == []  # no temporary file, no registry
    assert not any(m.imported for m in all_models().values())


def test_copy_hashing_with_cancel_already_set_writes_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CopyCancelled):
        copy_hashing([src], tmp_path / "out", "src.bin", cancel=cancel)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_old_per_home_conversion_is_still_pointed_at(cache_dir, home, capsys):
    """Before issue 9 each home had its own conversion in HOME/models (Home.models_dir is
    gone); `persona models list` still says it is there, unused, and how big it is."""
    old = home / "models" / "smollm2-135m-instruct"
    old.mkdir(parents=True)
    (old / "model.safetensors").write_bytes(b"\0" * 2_000_000)
    assert main(["models", "list", "--json", "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["old_home_conversion"] == str(old.resolve())
    assert main(["models", "list", "--home", str(home)]) == 0
    assert f"{old.resolve()} (2 MB) is an old per-home conversion" in capsys.readouterr().out
