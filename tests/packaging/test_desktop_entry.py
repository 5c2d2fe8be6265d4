"""The Linux desktop entry: installed for the user by packaging/linux/install-desktop-entry.sh."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "linux" / "install-desktop-entry.sh"


def test_the_entry_installs_for_the_user_and_is_valid(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    exe = venv / "bin" / "persona-desktop"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "share"),
               PERSONA_VENV=str(venv))
    subprocess.run(["bash", str(SCRIPT)], check=True, env=env, capture_output=True)
    entry = tmp_path / "share" / "applications" / "persona.desktop"
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "persona.svg"
    text = entry.read_text()
    assert f"Exec={exe}" in text and "@EXEC@" not in text
    assert icon.read_bytes() == (ROOT / "assets" / "icons" / "persona.svg").read_bytes()
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.fail("desktop-file-validate is missing; scripts/setup.sh installs it")
    out = subprocess.run([validate, str(entry)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr

    subprocess.run(["bash", str(SCRIPT), "--remove"], check=True, env=env, capture_output=True)
    assert not entry.exists() and not icon.exists()


def test_without_an_installation_it_says_what_to_do(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "share"),
               PERSONA_VENV=str(tmp_path / "nowhere"))
    out = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and "scripts/setup.sh" in out.stderr
