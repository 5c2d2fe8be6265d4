"""The nightly retrain schedule: valid systemd units and launchd plist, install/remove/status.

Everything is written to a temporary unit folder. This machine has no user systemd (and
no launchd), so the real `systemctl --user` fails here: the tests check that installing
still writes valid files and says what to run. The success path of the service manager
is exercised with small recording stand-ins for `systemctl`/`launchctl` on PATH, because
the real ones cannot run here; they are marked as such where used.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from persona.core.errors import PersonaError
from persona.core.paths import Home
from persona.core.settings import Settings
from persona.core.train.schedule import (
    ScheduleError,
    install,
    log_file,
    next_run,
    remove,
    render,
    schedule_id,
    status,
)

PYTHON = sys.executable
# A home path with every character that needs escaping in a unit file or a plist.
ODD = "my home 100% $HOME \"quoted\" & <tag> back\\slash"


def unit_sections(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser


def systemd_unquote(value: str) -> list[str]:
    """Split an ExecStart line as systemd does for the quoting our writer uses."""
    args, i = [], 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        assert value[i] == '"', value
        i, out = i + 1, []
        while value[i] != '"':
            if value[i] == "\\":
                i += 1
            elif value[i] in "%$":  # %% and $$ stand for one character
                assert value[i + 1] == value[i], value
                i += 1
            out.append(value[i])
            i += 1
        args.append("".join(out))
        i += 1
    return args


# ---- the files -----------------------------------------------------------------------


def test_systemd_units_say_what_they_must(tmp_path):
    home = Home.resolve(tmp_path / ODD)
    files = render(home, hour=4, minute=30, python=PYTHON, system="systemd")
    sid = schedule_id(home)
    assert sorted(files) == [f"persona-retrain-{sid}.service", f"persona-retrain-{sid}.timer"]
    service = unit_sections(files[f"persona-retrain-{sid}.service"])
    svc = service["Service"]
    assert svc["Type"] == "oneshot"
    assert systemd_unquote(svc["ExecStart"]) == [PYTHON, "-m", "persona.core.cli", "retrain", "--home",
                                                 str(home.root)]
    assert (svc["Nice"], svc["CPUSchedulingPolicy"], svc["IOSchedulingClass"]) == (
        "19", "idle", "idle")
    # The home, never the package's folder (its core/, privacy/ would shadow other modules).
    assert svc["WorkingDirectory"] == str(home.root).replace("%", "%%")
    assert "HF_HUB_OFFLINE=1" in svc["Environment"].split()
    log = str(log_file(home)).replace("%", "%%")
    assert svc["StandardOutput"] == svc["StandardError"] == f"append:{log}"

    timer = unit_sections(files[f"persona-retrain-{sid}.timer"])
    assert timer["Timer"]["OnCalendar"] == "*-*-* 04:30:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"] == "5min"
    assert timer["Timer"]["Unit"] == f"persona-retrain-{sid}.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def systemd_verify(paths: list[Path], tmp_path: Path) -> subprocess.CompletedProcess:
    # --user needs a runtime folder; an empty temporary one is enough for offline checks.
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True, mode=0o700)
    return subprocess.run(["systemd-analyze", "--user", "verify", *map(str, paths)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (apt-get install systemd); the "
                           "unit syntax is still checked by the configparser test")
def test_systemd_analyze_verifies_the_units(tmp_path):
    # The interpreter itself behind an odd path: verify fails if ExecStart's first word does
    # not unquote to an executable file, so this checks the quoting end to end.
    odd_bin = tmp_path / "bin 100% $x & é"
    odd_bin.mkdir()
    (odd_bin / "python").symlink_to(PYTHON)
    result = install(tmp_path / ODD, hour=23, minute=59, python=str(odd_bin / "python"),
                     unit_dir=tmp_path / "units", system="systemd", activate=False)
    done = systemd_verify(list(result.files), tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr

    # The check can fail: a bad value is reported (systemd only warns, so stderr is the signal).
    bad = tmp_path / "bad"
    bad.mkdir()
    for path, text in result.files.items():
        (bad / path.name).write_text(text.replace("Nice=19", "Nice=lowest")
                                         .replace("23:59:00", "24:59:00"))
    done = systemd_verify(sorted(bad.iterdir()), tmp_path)
    assert "nice priority" in done.stderr and "calendar" in done.stderr


def test_launchd_plist_is_well_formed(tmp_path):
    home = Home.resolve(tmp_path / ODD)
    (name, text), = render(home, hour=2, minute=5, python=PYTHON, system="launchd").items()
    sid = schedule_id(home)
    assert name == f"com.persona.retrain.{sid}.plist"
    plist = plistlib.loads(text.encode("utf-8"))
    assert plist["Label"] == f"com.persona.retrain.{sid}"
    assert plist["ProgramArguments"] == [PYTHON, "-m", "persona.core.cli", "retrain", "--home",
                                         str(home.root)]
    assert plist["StartCalendarInterval"] == {"Hour": 2, "Minute": 5}
    assert plist["Nice"] == 19 and plist["LowPriorityIO"] is True
    assert plist["ProcessType"] == "Background" and plist["RunAtLoad"] is False
    assert plist["StandardOutPath"] == plist["StandardErrorPath"] == str(log_file(home))
    assert plist["WorkingDirectory"] == str(home.root)
    # Round trip: what plistlib writes back reads the same.
    assert plistlib.loads(plistlib.dumps(plist)) == plist


# ---- install / status / remove against a temporary unit folder -------------------------


def test_install_status_remove_without_a_user_systemd(tmp_path):
    home, units = tmp_path / "home", tmp_path / "units"
    result = install(home, hour=3, minute=15, python=PYTHON, unit_dir=units, system="systemd")
    assert result.written and not result.enabled
    assert all(p.exists() and p.parent == units for p in result.files)
    timer = f"persona-retrain-{schedule_id(home)}.timer"
    assert "could not be enabled" in result.message
    assert f"systemctl --user enable {timer}" in result.message  # exactly what to run
    assert (home / "logs").is_dir()  # systemd does not create the log's folder

    st = status(home, unit_dir=units, system="systemd",
                now=datetime(2030, 1, 1, 12, 0).astimezone())
    assert st["installed"] and (st["hour"], st["minute"]) == (3, 15)
    assert st["next_run"].startswith("2030-01-02T03:15")
    assert st["active"] in (None, False)  # no user systemd here to ask
    assert st["last_log_line"] is None

    log_file(home).write_text("2030-01-02 03:20 retrain: 12 records, ε 2.0, promoted\n\n")
    st = status(home, unit_dir=units, system="systemd")
    assert st["last_log_line"] == "2030-01-02 03:20 retrain: 12 records, ε 2.0, promoted"
    assert st["last_log_time"] is not None

    # The enable link `systemctl enable` would have made is removed as well.
    wants = units / "timers.target.wants"
    wants.mkdir()
    (wants / timer).symlink_to(units / timer)
    gone = remove(home, unit_dir=units, system="systemd")
    assert not gone.disabled and "systemctl --user disable --now" in gone.message
    assert sorted(gone.removed) == sorted([*result.files, wants / timer])
    assert not any(units.rglob("persona-retrain-*"))
    assert not status(home, unit_dir=units, system="systemd")["installed"]
    assert "No nightly retrain" in remove(home, unit_dir=units, system="systemd").message


def test_dry_run_writes_and_runs_nothing(tmp_path, recorder):
    result = install(tmp_path / "home", hour=1, minute=0, python=PYTHON,
                     unit_dir=tmp_path / "units", system="systemd", dry_run=True)
    assert not result.written and not result.enabled
    assert not (tmp_path / "units").exists() and not (tmp_path / "home").exists()
    assert recorder.calls() == []
    assert "Would write" in result.message and "OnCalendar=*-*-* 01:00:00" in "".join(
        result.files.values())


def test_two_homes_have_two_schedules(tmp_path):
    units = tmp_path / "units"
    a = install(tmp_path / "a", hour=3, minute=0, python=PYTHON, unit_dir=units,
                system="systemd", activate=False)
    b = install(tmp_path / "b", hour=4, minute=0, python=PYTHON, unit_dir=units,
                system="systemd", activate=False)
    assert not set(a.files) & set(b.files) and len(list(units.iterdir())) == 4
    remove(tmp_path / "a", unit_dir=units, system="systemd", activate=False)
    assert status(tmp_path / "b", unit_dir=units, system="systemd")["hour"] == 4
    assert not status(tmp_path / "a", unit_dir=units, system="systemd")["installed"]


def test_installing_again_moves_the_time(tmp_path):
    units = tmp_path / "units"
    install(tmp_path / "h", hour=3, minute=0, python=PYTHON, unit_dir=units, system="systemd",
            activate=False)
    install(tmp_path / "h", hour=22, minute=45, python=PYTHON, unit_dir=units,
            system="systemd", activate=False)
    assert len(list(units.iterdir())) == 2
    st = status(tmp_path / "h", unit_dir=units, system="systemd")
    assert (st["hour"], st["minute"]) == (22, 45)


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    """Stand-ins for `systemctl` and `launchctl` that record their arguments and succeed:
    the real service managers cannot run in this container (no user session bus)."""
    bin_dir, log = tmp_path / "fakebin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    for name in ("systemctl", "launchctl"):
        exe = bin_dir / name
        exe.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n'
                       'case "$*" in *is-active*) echo active;; esac\nexit 0\n')
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    class Calls:
        def calls(self) -> list[str]:
            return log.read_text().splitlines() if log.exists() else []

    return Calls()


def test_systemd_commands_when_the_manager_answers(tmp_path, recorder):
    home, units = tmp_path / "home", tmp_path / "units"
    timer = f"persona-retrain-{schedule_id(home)}.timer"
    result = install(home, hour=3, minute=0, python=PYTHON, unit_dir=units, system="systemd")
    assert result.enabled and result.message.startswith("Nightly retrain scheduled at 03:00")
    assert recorder.calls() == ["systemctl --user daemon-reload",
                                f"systemctl --user enable {timer}",
                                f"systemctl --user restart {timer}"]
    assert status(home, unit_dir=units, system="systemd")["active"] is True
    gone = remove(home, unit_dir=units, system="systemd")
    assert gone.disabled and recorder.calls()[-2:] == [
        f"systemctl --user disable --now {timer}", "systemctl --user daemon-reload"]


def test_launchd_install_and_remove(tmp_path, recorder):
    home, agents = tmp_path / "home", tmp_path / "LaunchAgents"
    label = f"com.persona.retrain.{schedule_id(home)}"
    result = install(home, hour=3, minute=0, python=PYTHON, unit_dir=agents, system="launchd")
    (plist,) = result.files
    assert result.enabled and plist == agents / f"{label}.plist"
    uid = os.getuid()
    assert recorder.calls() == [f"launchctl bootout gui/{uid}/{label}",
                                f"launchctl bootstrap gui/{uid} {plist}"]
    st = status(home, unit_dir=agents, system="launchd")
    assert st["installed"] and (st["hour"], st["minute"]) == (3, 0) and st["active"] is True
    assert remove(home, unit_dir=agents, system="launchd").disabled and not plist.exists()


# ---- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("hour, minute, word", [(24, 0, "hour 24"), (3, 60, "minute 60"),
                                                (-1, 0, "hour -1"), (True, 0, "hour True"),
                                                ("3", 0, "hour '3'")])
def test_a_bad_time_is_refused_and_nothing_is_written(tmp_path, hour, minute, word):
    with pytest.raises(ScheduleError, match=f"retrain {word} is not a whole number") as err:
        install(tmp_path / "home", hour=hour, minute=minute, python=PYTHON,
                unit_dir=tmp_path / "units", system="systemd")
    assert isinstance(err.value, PersonaError) and "persona settings set retrain_" in str(
        err.value)
    assert not (tmp_path / "units").exists()


def test_an_interpreter_path_systemd_cannot_run_is_refused(tmp_path):
    odd_bin = tmp_path / 'bin "quoted"'
    odd_bin.mkdir()
    (odd_bin / "python").symlink_to(PYTHON)
    with pytest.raises(ScheduleError, match="make a link to it without them"):
        install(tmp_path / "home", hour=3, minute=0, python=str(odd_bin / "python"),
                unit_dir=tmp_path / "units", system="systemd")
    assert not (tmp_path / "units").exists()
    # launchd takes any path as it is.
    render(tmp_path / "home", hour=3, minute=0, python=str(odd_bin / "python"), system="launchd")


def test_a_missing_interpreter_or_platform_is_refused(tmp_path):
    with pytest.raises(ScheduleError, match="no-such-python.*does not exist"):
        install(tmp_path / "home", hour=3, minute=0, python=str(tmp_path / "no-such-python"),
                unit_dir=tmp_path / "units", system="systemd")
    with pytest.raises(ScheduleError, match="only systemd .* and launchd"):
        install(tmp_path / "home", hour=3, minute=0, python=PYTHON, system="windows")
    assert not (tmp_path / "units").exists()


def test_the_time_comes_from_the_settings():
    s = Settings()
    assert (s.retrain_hour, s.retrain_minute) == (3, 0)
    for bad in ({"retrain_hour": 24}, {"retrain_minute": 60}, {"retrain_hour": -1}):
        with pytest.raises(ValueError):
            Settings(**bad)


def test_next_run():
    noon = datetime(2030, 5, 1, 12, 0)
    assert next_run(13, 30, noon).replace(tzinfo=None) == datetime(2030, 5, 1, 13, 30)
    assert next_run(3, 0, noon).replace(tzinfo=None) == datetime(2030, 5, 2, 3, 0)
    assert next_run(12, 0, noon).replace(tzinfo=None) == datetime(2030, 5, 2, 12, 0)
    assert next_run(3, 0).tzinfo is not None
