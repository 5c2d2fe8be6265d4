"""Is the machine on battery? Linux reads /sys/class/power_supply, macOS asks ``pmset``.

The nightly retrain waits while a laptop runs on battery (``wait_for_mains``): training
for minutes at full CPU would drain it. Unknown power counts as mains, so a machine whose
power source cannot be read still retrains.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SYSFS_POWER = Path("/sys/class/power_supply")


def on_battery(*, sysfs_root: Path = SYSFS_POWER, pmset: Callable[[], str] | None = None,
               system: str | None = None) -> bool | None:
    """True on battery, False on mains power (or no battery at all), None if unknown.

    ``sysfs_root`` (Linux) and ``pmset`` (macOS: returns the output of ``pmset -g batt``)
    are injectable so the parsing can be tested on fixture trees.
    """
    system = system or sys.platform
    if system.startswith("linux"):
        return _sysfs_on_battery(Path(sysfs_root))
    if system == "darwin":
        try:
            text = (pmset or _run_pmset)()
        except (OSError, subprocess.SubprocessError):
            return None
        return parse_pmset(text)
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _sysfs_on_battery(root: Path) -> bool | None:
    try:
        supplies = sorted(p for p in root.iterdir())
    except OSError:
        return None  # no power_supply class at all: we cannot tell
    mains_online: list[bool] = []
    battery_status: list[str] = []
    unreadable = 0
    for sup in supplies:
        kind = _read(sup / "type")
        if kind is None:
            unreadable += 1
        elif kind in ("Mains", "USB", "Wireless"):
            online = _read(sup / "online")
            if online in ("0", "1"):
                mains_online.append(online == "1")
            else:
                unreadable += 1
        elif kind == "Battery" and _read(sup / "scope") != "Device":
            # scope=Device is a mouse or headset battery, not the one that powers us.
            status = _read(sup / "status")
            battery_status.append(status or "Unknown")
    if any(mains_online):
        return False
    if not battery_status:
        return None if unreadable else False  # a desktop (or a UPS only)
    if "Discharging" in battery_status or (mains_online and not any(mains_online)):
        return True
    if all(s in ("Charging", "Full", "Not charging") for s in battery_status):
        return False
    return None


def _run_pmset() -> str:
    return subprocess.run(["pmset", "-g", "batt"], capture_output=True, text=True, timeout=10,
                          check=True).stdout


def parse_pmset(text: str) -> bool | None:
    """``pmset -g batt`` says "Now drawing from 'AC Power'" or "... 'Battery Power'"."""
    if "'AC Power'" in text:
        return False
    if "'Battery Power'" in text:
        return True
    return None


def wait_for_mains(*, poll_seconds: float = 60.0, max_wait_seconds: float = 6 * 3600,
                   should_stop: Callable[[], bool] = lambda: False,
                   log: Callable[[str], None] = lambda _msg: None,
                   check: Callable[[], bool | None] = on_battery) -> bool:
    """Wait while the machine runs on battery. True once on mains power (or if the power
    source cannot be read: unknown is not a reason to skip a night), False if it gave up
    after ``max_wait_seconds`` or ``should_stop()`` became true."""
    deadline = time.monotonic() + max_wait_seconds
    said = False
    while True:
        state = check()
        if state is not True:
            if said or state is None:
                log("on mains power, starting" if state is False
                    else "power source unknown, starting anyway")
            return True
        if not said:
            log(f"on battery: waiting for mains power (up to {_duration(max_wait_seconds)})")
            said = True
        if should_stop():
            log("stop requested while waiting for mains power")
            return False
        now = time.monotonic()
        if now >= deadline:
            log(f"still on battery after {_duration(max_wait_seconds)}; giving up for now")
            return False
        wake = min(now + poll_seconds, deadline)
        while (now := time.monotonic()) < wake and not should_stop():
            time.sleep(min(1.0, wake - now))  # short naps: a stop is seen within a second


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
