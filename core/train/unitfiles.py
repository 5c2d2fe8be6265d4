"""What the nightly retrain's unit files say: the packaging/ templates filled in for one home.

Each home gets its own schedule, named after a short hash of the home's path
(``persona-retrain-1a2b3c4d.timer``, ``com.persona.retrain.1a2b3c4d``), so a test or demo
home never replaces the person's real schedule and the files are found again from the home
alone. Values are escaped for their format (systemd specifiers and quoting, XML), and a bad
hour, minute or interpreter is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from persona.core.errors import PersonaError
from persona.core.paths import PACKAGING_DIR, Home

TEMPLATES = PACKAGING_DIR
LOG_NAME = "retrain.log"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class ScheduleError(PersonaError):
    """The schedule cannot be installed as asked (bad time, interpreter, platform)."""


def schedule_id(home: Home | str | os.PathLike[str]) -> str:
    """Eight hex digits naming this home's schedule."""
    return hashlib.sha256(str(home_of(home).root).encode("utf-8")).hexdigest()[:8]


def log_file(home: Home | str | os.PathLike[str]) -> Path:
    """Where the scheduled job's output goes (the runner prints its summary line there)."""
    return home_of(home).logs_dir / LOG_NAME


def render(home: Home | str | os.PathLike[str], *, hour: int, minute: int, python: str,
           system: str | None = None) -> dict[str, str]:
    """File name -> content of this home's unit files, from the packaging/ templates.

    The job runs in the home (its working directory): `-m persona.core.cli` finds the
    installed package wherever it is, and the source or site-packages folder must not be
    the job's directory, where Python would put its core/, privacy/... first on sys.path.
    """
    home, system = home_of(home), resolve_system(system)
    _check_time(hour, minute)
    python = _check_python(python)
    sid, log = schedule_id(home), str(log_file(home))
    if system == "systemd":
        service = f"persona-retrain-{sid}.service"
        argv = [python, "-m", "persona.core.cli", "retrain", "--home", str(home.root)]
        exec_line = " ".join([_sd_executable(python), *map(_sd_quote, argv[1:])])
        values = {"EXEC": exec_line, "HOME_TEXT": _sd(home.root),
                  "WORKDIR": _sd(home.root), "LOG": _sd(log), "SERVICE": service,
                  "HOUR": f"{hour:02d}", "MINUTE": f"{minute:02d}"}
        return {service: _fill("systemd/persona-retrain.service", values),
                f"persona-retrain-{sid}.timer": _fill("systemd/persona-retrain.timer", values)}
    values = {"LABEL": label(home), "PYTHON": python,
              "HOME": str(home.root), "WORKDIR": str(home.root), "LOG": log,
              "HOUR": str(hour), "MINUTE": str(minute)}
    values = {k: xml_escape(v) for k, v in values.items()}
    text = _fill("launchd/com.persona.retrain.plist", values)
    plistlib.loads(text.encode("utf-8"))  # an escaping slip must never reach launchd
    return {f"{label(home)}.plist": text}


def installed_time(system: str, path: Path) -> tuple[int | None, int | None]:
    """(hour, minute) of an installed timer or plist; (None, None) if it cannot be read."""
    try:
        if system == "systemd":
            m = re.search(r"^OnCalendar=\*-\*-\* (\d\d):(\d\d):00\s*$", path.read_text("utf-8"),
                          re.MULTILINE)
            return (int(m[1]), int(m[2])) if m else (None, None)
        when = plistlib.loads(path.read_bytes())["StartCalendarInterval"]
        return int(when["Hour"]), int(when["Minute"])
    except (OSError, ValueError, KeyError, TypeError, plistlib.InvalidFileException):
        return None, None


def resolve_system(system: str | None) -> str:
    """"systemd" or "launchd": the one asked for, else this platform's."""
    if system in ("systemd", "launchd"):
        return system
    if system is None and sys.platform.startswith("linux"):
        return "systemd"
    if system is None and sys.platform == "darwin":
        return "launchd"
    raise ScheduleError(f"cannot schedule on {system or sys.platform!r}: only systemd (Linux) "
                        f"and launchd (macOS) are supported; run `persona retrain` from your "
                        f"system's task scheduler instead")


def home_of(home: Home | str | os.PathLike[str]) -> Home:
    """A Home from a Home or a folder path."""
    return home if isinstance(home, Home) else Home.resolve(home)


def label(home: Home) -> str:
    """The launchd label of this home's agent."""
    return f"com.persona.retrain.{schedule_id(home)}"


def unit_paths(system: str, home: Home, folder: Path) -> list[Path]:
    """This home's unit files in ``folder``: [service, timer] or [plist]."""
    sid = schedule_id(home)
    if system == "systemd":
        return [folder / f"persona-retrain-{sid}.service", folder / f"persona-retrain-{sid}.timer"]
    return [folder / f"{label(home)}.plist"]


def _check_time(hour: int, minute: int) -> None:
    for name, value, top in (("hour", hour, 23), ("minute", minute, 59)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ScheduleError(f"retrain {name} {value!r} is not a whole number from 0 to "
                                f"{top}; set it with `persona settings set retrain_{name} N`")


def _check_python(python: str | os.PathLike[str]) -> str:
    path = Path(python).expanduser().absolute()  # not resolved: a venv's python is a link
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ScheduleError(f"Python interpreter {str(python)!r} does not exist or cannot be "
                            f"run; pass the one Persona is installed in, e.g. {sys.executable}")
    if any(ord(ch) < 32 for ch in str(path)):
        raise ScheduleError(f"Python path {str(path)!r} contains a control character")
    return str(path)


def _fill(template: str, values: dict[str, str]) -> str:
    path = TEMPLATES / template
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError(f"schedule template {path} is missing ({exc.strerror}); the "
                            f"installation is incomplete: reinstall Persona") from exc
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = _PLACEHOLDER.findall(text)
    assert not left, f"unfilled placeholders {left} in {template}"
    return text


def _sd(value: object) -> str:
    """A value for a systemd setting: % starts a specifier, so it is doubled."""
    text = str(value)
    if any(ord(ch) < 32 for ch in text):
        raise ScheduleError(f"path {text!r} contains a control character; systemd cannot use it")
    return text.replace("%", "%%")


def _sd_executable(path: str) -> str:
    """ExecStart's first word: quoted, % doubled; systemd expands no $ there, and refuses
    quotes and backslashes in it."""
    if any(ch in path for ch in "\"'\\"):
        raise ScheduleError(f"systemd cannot run an interpreter whose path has quotes or a "
                            f"backslash ({path!r}); make a link to it without them and pass that")
    return f'"{_sd(path)}"'


def _sd_quote(arg: str) -> str:
    """One ExecStart argument: quoted, C-style escapes, $ and % doubled."""
    text = _sd(arg).replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
    return f'"{text}"'
