"""The persona bundle on a small home (no model loaded): what goes in, what comes back, and
the refusals (wrong passphrase, other base model, newer format, non-empty target)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import lancedb
import pytest

from persona.core.bundle import export_persona, import_persona
from persona.core.errors import BundleError
from persona.core.paths import Home
from persona.privacy.bundle.format import FORMAT_VERSION, Manifest
from persona.privacy.bundle.writer import write_bundle
from tests.privacy.bundle_helpers import PASSPHRASE, small_home, tree_digest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    home = small_home(root / "home")
    (home.audio_dir).mkdir()
    (home.audio_dir / "a.wav").write_bytes(b"RIFF-not-really-audio")
    result = export_persona(home, root / "p.persona", passphrase=PASSPHRASE)
    return home, result


def _rows(memory_dir: Path) -> list[dict]:
    tbl = lancedb.connect(str(memory_dir)).open_table("memories")
    return sorted(tbl.to_arrow().to_pylist(), key=lambda r: r["id"])


def test_import_gives_back_the_same_persona(exported, tmp_path):
    home, result = exported
    assert result.memories == 300 and result.path.stat().st_mode & 0o777 == 0o600
    target = tmp_path / "new"
    out = import_persona(result.path, target, passphrase=PASSPHRASE)
    assert out.memories == 300 and out.home == target
    # Every file byte for byte, the current link as a link; no memory table files compared
    # here (LanceDB writes its own), but every row with its vector below.
    skip = ("memory.lancedb", "logs", "audio")
    want = {k: v for k, v in tree_digest(home.root, skip=skip).items()
            if not k.endswith(".lock")}
    assert tree_digest(target, skip=skip) == want
    assert os.readlink(target / "adapters" / "current") == os.readlink(home.adapters_dir /
                                                                        "current")
    assert _rows(target / "memory.lancedb") == _rows(home.memory_dir)
    indexed = {tuple(i.columns) for i in lancedb.connect(str(target / "memory.lancedb"))
               .open_table("memories").list_indices()}
    assert {("text",), ("text_hash",), ("id",)} <= indexed
    # Not the logs, lock files or (without --with-audio) the recordings; all private.
    assert not (target / "logs").exists() and not (target / "audio").exists()
    assert not (target / "privacy" / "ledger.jsonl.lock").exists()
    assert not any(p.name.startswith(".") and "import" in p.name for p in tmp_path.iterdir())
    for p in [target, *target.rglob("*")]:
        if not p.is_symlink():
            mode = stat.S_IMODE(p.stat().st_mode)
            assert mode & 0o077 == 0, (p, oct(mode))


def test_recordings_only_with_audio(exported, tmp_path):
    home, _ = exported
    bundle = export_persona(home, tmp_path / "a.persona", passphrase=PASSPHRASE,
                            with_audio=True)
    assert "audio/a.wav" in bundle.parts
    import_persona(bundle.path, tmp_path / "new", passphrase=PASSPHRASE)
    assert (tmp_path / "new" / "audio" / "a.wav").read_bytes() == b"RIFF-not-really-audio"


def test_wrong_passphrase(exported, tmp_path):
    _, result = exported
    with pytest.raises(BundleError, match="the passphrase is wrong.*Nothing was written"):
        import_persona(result.path, tmp_path / "new", passphrase="correct horse battery")
    assert list(tmp_path.iterdir()) == []


def test_target_must_be_new_or_empty(exported, tmp_path):
    _, result = exported
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="it is not empty"):
        import_persona(result.path, tmp_path / "full", passphrase=PASSPHRASE)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    import_persona(result.path, tmp_path / "empty", passphrase=PASSPHRASE)
    assert (tmp_path / "empty" / "profile.yaml").is_file()


def test_a_bundle_for_another_base_model_is_refused(tmp_path):
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights v1")
    home = small_home(tmp_path / "home", rows=3)
    home.settings_file.write_text(f"llm_model: {model}\n")
    bundle = export_persona(home, tmp_path / "p.persona", passphrase=PASSPHRASE).path
    (model / "model.safetensors").write_bytes(b"weights v2")  # this machine's model differs
    with pytest.raises(BundleError, match="another base model .*my-model.*Nothing was written"):
        import_persona(bundle, tmp_path / "new", passphrase=PASSPHRASE)
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "my-model", "p.persona"]


def test_a_bundle_from_a_newer_format_is_refused(tmp_path):
    # The header is checked first (test_bundle_fuzz); here the manifest inside says newer.
    newer = Manifest(format_version=FORMAT_VERSION + 1, app_version="9.0", created="2030",
                     base_model={})
    path = write_bundle(tmp_path / "n.persona", passphrase=PASSPHRASE, manifest=newer,
                        fill=lambda archive: archive.add_dir("adapters"))
    with pytest.raises(BundleError, match=f"names bundle format {FORMAT_VERSION + 1}"):
        import_persona(path, tmp_path / "new", passphrase=PASSPHRASE)
    assert not (tmp_path / "new").exists()


def test_export_refuses_a_short_passphrase_and_an_existing_file(exported, tmp_path):
    home, result = exported
    with pytest.raises(BundleError, match="at least 8"):
        export_persona(home, tmp_path / "x.persona", passphrase="short")
    with pytest.raises(BundleError, match="already exists"):
        export_persona(home, result.path, passphrase=PASSPHRASE)
    assert list(tmp_path.iterdir()) == []


def _persona(*args: str, stdin=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "persona.core.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, stdin=stdin)


def test_cli_export_and_import_with_a_passphrase_file(tmp_path):
    home = small_home(tmp_path / "home", rows=5)
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")
    out = _persona("export", str(tmp_path / "p.persona"), "--home", str(home.root),
                   "--passphrase-file", str(secret), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["memories"] == 5
    out = _persona("import", str(tmp_path / "p.persona"), "--home", str(tmp_path / "new"),
                   "--passphrase-file", str(secret), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["memories"] == 5
    assert _rows(Home(tmp_path / "new").memory_dir) == _rows(home.memory_dir)
    # Without a terminal and without a file there is no way to ask: a clear error.
    out = _persona("import", str(tmp_path / "p.persona"), "--home", str(tmp_path / "new2"),
                   stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "--passphrase-file" in out.stderr
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n")
    out = _persona("import", str(tmp_path / "p.persona"), "--home", str(tmp_path / "new2"),
                   "--passphrase-file", str(wrong))
    assert out.returncode == 2 and "passphrase is wrong" in out.stderr
    assert not (tmp_path / "new2").exists()


def test_export_waits_for_no_training_run(exported, tmp_path):
    # A run in another thread holds the training lock (as one in another process would):
    # the adapters and the ledger could change mid-copy, so export refuses and writes nothing.
    import threading

    from persona.core.errors import PersonaError
    from persona.core.train.jobcontrol import RunLock, training_lock_path

    home, _ = exported
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with RunLock(training_lock_path(home)):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        with pytest.raises(PersonaError, match="another training run is going"):
            export_persona(home, tmp_path / "x.persona", passphrase=PASSPHRASE)
    finally:
        release.set()
        holder.join()
    assert list(tmp_path.iterdir()) == []
