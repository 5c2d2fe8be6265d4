"""The built wheel works on its own: installed into a fresh virtual environment with no
checkout beside it, `persona demo`, `persona app --check` and `persona schedule install` run.

The wheel is built from a copy of the source tree (so no stale ``build/`` folder of the
checkout can slip old files in) and installed with ``--no-deps``. Its dependencies are not
installed again (gigabytes, and no network here): a ``.pth`` file in the new environment
lists the project environment's site-packages. A folder added by a ``.pth`` is not a site
folder, so the project's editable-install hook (itself a ``.pth`` there) is not run, and
``persona`` can only come from the wheel; the first test checks exactly that.

Everything runs from a temporary working folder with HOME, the data folder and the XDG
folders in tmp. `systemctl` is a recording stand-in on PATH: the real one cannot run here
(no user session bus), and on a developer's machine it must not be touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# Not part of the source: the checkout's environment, caches and old build output.
_NOT_SOURCE = {"build", "dist", "__pycache__", "benchmarks"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _NOT_SOURCE or n.startswith(".") or n.endswith(".egg-info")}


class Installed:
    """A fresh virtual environment with the wheel installed, and a sandbox to run it in."""

    def __init__(self, base: Path):
        self.base = base
        self.wheel = self._build()
        self.venv = base / "venv"
        self.bin = self.venv / "bin"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)],
                       check=True, timeout=120)
        self.site = Path(self.run_py("import sysconfig; print(sysconfig.get_paths()['purelib'])",
                                     check=True).stdout.strip())
        ours = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
        (self.site / "project-deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
        subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                        "--python", str(self.bin / "python"), "install", "--no-deps",
                        str(self.wheel)], check=True, timeout=300)

    def _build(self) -> Path:
        src, out = self.base / "src", self.base / "dist"
        shutil.copytree(ROOT, src, ignore=_ignore)
        subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                        "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
                       check=True, timeout=300, capture_output=True)
        wheel, = out.glob("persona-*.whl")
        return wheel

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a person who installed the wheel: nothing of the checkout's."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PERSONA_", "XDG_", "PYTHON", "VIRTUAL_ENV"))}
        sandbox = self.base / "sandbox"
        env.update(HOME=str(sandbox / "home"), PERSONA_HOME=str(sandbox / "data"),
                   QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}")
        # Only the model cache (joined and converted models) is shared with the other tests
        # (a conversion takes ~30 s); it is a per-user cache, not something the wheel provides.
        if "PERSONA_CACHE" in os.environ:
            env["PERSONA_CACHE"] = os.environ["PERSONA_CACHE"]
        env.update(extra)
        return env

    def run(self, argv: list[str], timeout: float = 120, **env: str):
        cwd = self.base / "sandbox" / "cwd"  # never the checkout
        cwd.mkdir(parents=True, exist_ok=True)
        return subprocess.run(argv, cwd=cwd, env=self.env(**env), capture_output=True,
                              text=True, timeout=timeout)

    def run_py(self, code: str, check: bool = False):
        done = self.run([str(self.bin / "python"), "-c", code])
        if check:
            assert done.returncode == 0, done.stderr
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    return Installed(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_one_persona_package_and_its_data(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"persona", "persona-0.1.0.dist-info"}, tops  # no core/, privacy/, desktop/
    for want in ("persona/assets/style.qss", "persona/assets/icons/persona.svg",
                 "persona/assets/icons/mic.svg", "persona/assets/sample_persona/diary.md",
                 "persona/assets/sample_persona/profile.yaml",
                 "persona/packaging/systemd/persona-retrain.service",
                 "persona/packaging/systemd/persona-retrain.timer",
                 "persona/packaging/launchd/com.persona.retrain.plist",
                 "persona/packaging/linux/persona.desktop",
                 "persona/packaging/linux/install-desktop-entry.sh",
                 "persona/core/cli/__main__.py", "persona/privacy/ledger.py",
                 "persona/desktop/app.py"):
        assert want in names, want


def test_persona_comes_from_the_wheel_not_the_checkout(installed):
    code = ("import importlib.util as u, json, persona, persona.core.paths as p, persona.desktop;"
            "print(json.dumps({'path': list(persona.__path__), 'core': p.__file__,"
            " 'desktop': persona.desktop.__path__[0], 'assets': str(p.ASSETS_DIR),"
            " 'packaging': str(p.PACKAGING_DIR),"
            " 'generic': [n for n in ('core', 'privacy', 'desktop') if u.find_spec(n)]}))")
    got = json.loads(installed.run_py(code, check=True).stdout)
    site = str(installed.site)
    assert got["path"] == [f"{site}/persona"]
    for key in ("core", "desktop", "assets", "packaging"):
        assert got[key].startswith(site + "/persona/"), (key, got[key])
    assert got["generic"] == []  # the wheel claims no generic top-level names
    assert (Path(got["assets"]) / "style.qss").is_file()


def test_app_check(installed):
    done = installed.run([str(installed.bin / "persona"), "app", "--check"])
    assert done.returncode == 0, done.stderr
    assert "Qt can open windows here" in done.stdout


def test_schedule_install_renders_the_installed_templates(installed, tmp_path):
    # A stand-in `systemctl` that records and succeeds: see the module docstring.
    fake, calls = tmp_path / "fakebin", tmp_path / "calls.txt"
    fake.mkdir()
    (fake / "systemctl").write_text(f'#!/bin/sh\necho "systemctl $*" >> "{calls}"\nexit 0\n')
    (fake / "systemctl").chmod(0o755)
    env = installed.env()
    path = f"{fake}{os.pathsep}{env['PATH']}"
    done = installed.run([str(installed.bin / "persona"), "schedule", "install", "--json",
                          "--hour", "4"], PATH=path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["enabled"] and out["system"] == "systemd", out
    units = Path(env["HOME"]) / ".config" / "systemd" / "user"
    files = sorted(map(Path, out["files"]))
    assert [f.parent for f in files] == [units, units] and all(f.is_file() for f in files)
    service = next(f for f in files if f.suffix == ".service").read_text(encoding="utf-8")
    data = env["PERSONA_HOME"]
    assert (f'ExecStart="{installed.bin}/python" "-m" "persona.core.cli" "retrain" '
            f'"--home" "{data}"') in service
    assert f"WorkingDirectory={data}\n" in service  # not site-packages
    assert not re.search(r"@[A-Z_]+@", service)  # every placeholder filled
    assert "enable" in calls.read_text()

    done = installed.run([str(installed.bin / "persona"), "schedule", "remove"], PATH=path)
    assert done.returncode == 0, done.stderr
    assert not any(units.iterdir())


def test_desktop_entry_from_the_installed_script(installed):
    script = installed.site / "persona" / "packaging" / "linux" / "install-desktop-entry.sh"
    done = installed.run(["bash", str(script)])
    assert done.returncode == 0, done.stderr
    entry = Path(installed.env()["HOME"]) / ".local/share/applications/persona.desktop"
    assert f"Exec={installed.bin}/persona-desktop\n" in entry.read_text(encoding="utf-8")
    assert (entry.parents[1] / "icons/hicolor/scalable/apps/persona.svg").is_file()


def test_demo(installed):
    person = installed.base / "sandbox" / "person"  # set, and left alone by the demo
    env = installed.env(PERSONA_HOME=str(person))
    done = installed.run([str(installed.bin / "persona"), "demo", "--json"], timeout=240,
                         PERSONA_HOME=str(person))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    demo = Path(out["demo_folder"])
    # The sample persona came from the installed package data, into the cache folder.
    assert demo == (Path(env["HOME"]) / ".cache" / "persona" / "demo").resolve()
    assert any("Lisbon" in t for t in out["retrieved"])
    assert out["reply"].strip() and Path(out["reply_wav"]).is_file()
    assert not person.exists()  # the person's data folder is untouched
