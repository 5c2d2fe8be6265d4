"""The nightly retrain schedule: a systemd user timer on Linux, a launchd agent on macOS.

``install`` writes this home's unit files (``core/train/unitfiles.py`` renders them from
``packaging/``) and asks the service manager to enable them; ``remove`` undoes that;
``status`` says whether one is installed, when it runs next, and the last line of the job's
log (``<home>/logs/retrain.log``, where the unit sends the job's output).

Where the service manager cannot be reached (no user systemd, as in CI), installing still
writes valid files and says exactly what to run; it never fails for that reason.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from persona.core.atomic import atomic_write_text
from persona.core.paths import Home
from persona.core.train.unitfiles import (
    LOG_NAME,
    ScheduleError,
    home_of,
    installed_time,
    label,
    log_file,
    render,
    resolve_system,
    schedule_id,
    unit_paths,
)

__all__ = ["LOG_NAME", "InstallResult", "RemoveResult", "ScheduleError", "default_unit_dir",
           "install", "log_file", "next_run", "remove", "render", "schedule_id", "status"]


@dataclass
class InstallResult:
    system: str  # "systemd" or "launchd"
    files: dict[Path, str]  # path -> content; written unless dry_run
    hour: int
    minute: int
    next_run: datetime  # nominal; systemd adds up to 5 min of random delay
    written: bool
    enabled: bool  # the timer/agent is active in the service manager
    commands: list[list[str]] = field(default_factory=list)  # run, or to run by hand
    message: str = ""


@dataclass
class RemoveResult:
    system: str
    removed: list[Path]
    disabled: bool
    message: str = ""


def next_run(hour: int, minute: int, now: datetime | None = None) -> datetime:
    """The next local time ``hour:minute`` strictly after ``now``, timezone-aware."""
    now = (now or datetime.now()).astimezone().replace(tzinfo=None)
    due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due <= now:
        due += timedelta(days=1)
    return due.astimezone()


def default_unit_dir(system: str) -> Path:
    """The user's own unit folder: ~/.config/systemd/user or ~/Library/LaunchAgents."""
    if system == "systemd":
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "systemd" / "user"
    return Path.home() / "Library" / "LaunchAgents"


def install(home: Home | str | os.PathLike[str], *, hour: int, minute: int, python: str,
            dry_run: bool = False, unit_dir: Path | None = None, system: str | None = None,
            activate: bool = True) -> InstallResult:
    """Write this home's schedule and enable it; installing again replaces it.

    ``unit_dir`` overrides the user unit/agent folder (tests); ``activate=False`` writes the
    files without asking the service manager. ``dry_run`` writes and runs nothing.
    """
    home, system = home_of(home), resolve_system(system)
    folder = Path(unit_dir) if unit_dir else default_unit_dir(system)
    files = {folder / name: text for name, text in
             render(home, hour=hour, minute=minute, python=python, system=system).items()}
    commands = _enable_commands(system, home, folder)
    result = InstallResult(system, files, hour, minute, next_run(hour, minute),
                           written=False, enabled=False, commands=commands)
    if dry_run:
        result.message = ("Would write " + ", ".join(map(str, files)) + " and run: "
                          + " && ".join(map(_shell, commands)))
        return result
    home.logs_dir.mkdir(parents=True, exist_ok=True)  # the unit appends its output there
    for path, text in files.items():
        atomic_write_text(path, text)
    result.written = True
    when = f"{hour:02d}:{minute:02d}"
    if not activate:
        result.message = f"Wrote the schedule ({when} daily); to enable it run: " + " && ".join(
            map(_shell, commands))
        return result
    if system == "launchd":
        _run(["launchctl", "bootout", f"gui/{os.getuid()}/{label(home)}"])  # if loaded
    for cmd in commands:
        ok, why = _run(cmd)
        if not ok:
            result.message = (f"Wrote the schedule ({when} daily) to {folder}, but it could not "
                              f"be enabled: `{_shell(cmd)}` failed ({why}). Run this yourself: "
                              + " && ".join(map(_shell, commands)))
            return result
    result.enabled = True
    result.message = (f"Nightly retrain scheduled at {when}; "
                      f"next run {result.next_run:%a %d %b %H:%M}.")
    if system == "systemd" and _linger() is False:
        result.message += (" It runs while you are logged in; to run it when you are not, "
                           f"run `loginctl enable-linger {getpass.getuser()}`.")
    return result


def remove(home: Home | str | os.PathLike[str], *, unit_dir: Path | None = None,
           system: str | None = None, activate: bool = True) -> RemoveResult:
    """Disable and delete this home's schedule. Nothing installed is not an error."""
    home, system = home_of(home), resolve_system(system)
    folder = Path(unit_dir) if unit_dir else default_unit_dir(system)
    paths = unit_paths(system, home, folder)
    if system == "systemd":
        timer = paths[1].name
        first = ["systemctl", "--user", "disable", "--now", timer]
        last = [["systemctl", "--user", "daemon-reload"]]
        links = [folder / "timers.target.wants" / timer]  # what `disable` removes
    else:
        first = ["launchctl", "bootout", f"gui/{os.getuid()}/{label(home)}"]
        last, links = [], []
    installed = [p for p in paths if p.exists()]
    disabled, why = _run(first) if activate and installed else (False, "not asked")
    removed = [p for p in installed + links if p.is_symlink() or p.exists()]
    for path in removed:
        path.unlink()
    for cmd in last if activate and installed else []:
        _run(cmd)
    if not installed:
        message = f"No nightly retrain was scheduled for {home.root}."
    elif disabled:
        message = "Nightly retrain unscheduled; removed " + ", ".join(map(str, installed))
    else:
        message = (f"Removed {', '.join(map(str, installed))}, but the service manager was "
                   f"not told ({why}); run: " + " && ".join(map(_shell, [first, *last])))
    return RemoveResult(system, removed, disabled, message)


def status(home: Home | str | os.PathLike[str], *, unit_dir: Path | None = None,
           system: str | None = None, now: datetime | None = None) -> dict:
    """Is a schedule installed, at what time, when next, is it active, and the last log line."""
    home, system = home_of(home), resolve_system(system)
    folder = Path(unit_dir) if unit_dir else default_unit_dir(system)
    paths = unit_paths(system, home, folder)
    installed = all(p.exists() for p in paths)
    hour = minute = None
    if installed:
        hour, minute = installed_time(system, paths[-1])
    log = log_file(home)
    out = {"system": system, "installed": installed, "home": str(home.root),
           "files": [str(p) for p in paths if p.exists()], "hour": hour, "minute": minute,
           "next_run": (next_run(hour, minute, now).isoformat(timespec="minutes")
                        if hour is not None else None),
           "active": _active(system, home, paths) if installed else False,
           "log_file": str(log), "last_log_line": None, "last_log_time": None}
    if log.exists():
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 8192))
            lines = [x.strip() for x in f.read().decode("utf-8", "replace").splitlines()]
        out["last_log_line"] = next((x for x in reversed(lines) if x), None)
        out["last_log_time"] = (datetime.fromtimestamp(log.stat().st_mtime).astimezone()
                                .isoformat(timespec="seconds"))
    if system == "systemd":
        out["linger"] = _linger()
    return out


# ---- helpers ---------------------------------------------------------------------------


def _enable_commands(system: str, home: Home, folder: Path) -> list[list[str]]:
    if system == "systemd":
        timer = unit_paths(system, home, folder)[1].name
        # restart, not start: an installed-again timer must pick up its new time.
        return [["systemctl", "--user", "daemon-reload"],
                ["systemctl", "--user", "enable", timer],
                ["systemctl", "--user", "restart", timer]]
    plist = unit_paths(system, home, folder)[0]
    return [["launchctl", "bootstrap", f"gui/{os.getuid()}", str(plist)]]


def _run(cmd: list[str]) -> tuple[bool, str]:
    """(succeeded, why not) for one service-manager command; never raises."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return False, f"{cmd[0]} is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode == 0:
        return True, ""
    said = (done.stderr or done.stdout).strip().splitlines()
    return False, said[0] if said else f"exit status {done.returncode}"


def _shell(cmd: list[str]) -> str:
    return shlex.join(cmd)


def _active(system: str, home: Home, paths: list[Path]) -> bool | None:
    """True/False as the service manager says; None if it cannot be asked."""
    if system == "systemd":
        cmd = ["systemctl", "--user", "is-active", paths[1].name]
    else:
        cmd = ["launchctl", "print", f"gui/{os.getuid()}/{label(home)}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if system == "systemd":
        state = done.stdout.strip()
        return state in ("active", "activating") if state else None
    return done.returncode == 0 if done.returncode in (0, 113) else None  # 113: not loaded


def _linger() -> bool | None:
    """Do this user's timers run while logged out (``loginctl enable-linger``)?"""
    try:
        return (Path("/var/lib/systemd/linger") / getpass.getuser()).exists()
    except (OSError, KeyError):
        return None
