"""Job control of the nightly retrain: the run lock, low priority, battery, SIGTERM.

Locks, priorities and signals are exercised on real processes. The machine's real battery
cannot be plugged and unplugged here (this machine has none), so the power-supply parsing
runs on fixture trees under tmp_path that copy the layout of real /sys/class/power_supply
folders, and on real `pmset -g batt` outputs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from persona.core.paths import Home
from persona.core.train.jobcontrol import (
    GracefulStop,
    RetrainBusyError,
    RunLock,
    on_battery,
    parse_pmset,
    training_lock_path,
    training_status,
    wait_for_mains,
)

ROOT = Path(__file__).resolve().parents[3]


def child(code: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    """A real Python process running ``code`` with the repository importable."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_line(proc: subprocess.Popen, expected: str) -> None:
    line = proc.stdout.readline().strip()
    assert line == expected, f"child said {line!r}; stderr: {proc.stderr.read()}"


def take(path: Path) -> None:
    with RunLock(path):
        pass


HOLD_LOCK = """
    import sys, time
    from persona.core.train.jobcontrol import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
"""


# ---- the run lock ----------------------------------------------------------------------


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
    path = tmp_path / "retrain.lock"
    holder = child(HOLD_LOCK, str(path))
    try:
        wait_line(holder, "locked")
        with pytest.raises(RetrainBusyError, match=rf"training run is going \(pid {holder.pid}, "
                                                   r"since \d{4}-\d\d-\d\dT"):
            take(path)
        # The refused process gets the same answer from its own side.
        other = child("""
            import sys
            from persona.core.train.jobcontrol import RunLock, RetrainBusyError
            try:
                with RunLock(sys.argv[1]):
                    print("got it")
            except RetrainBusyError as exc:
                print("refused:", exc)
        """, str(path))
        out, err = other.communicate(timeout=60)
        assert out.startswith(f"refused: another training run is going (pid {holder.pid}"), err
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    with RunLock(path):  # the holder has gone: free again
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_a_lock_left_by_a_killed_process_is_free(tmp_path):
    path = tmp_path / "retrain.lock"
    holder = child(HOLD_LOCK, str(path))
    wait_line(holder, "locked")
    holder.kill()  # SIGKILL: no clean-up ran, the file still names the dead process
    holder.wait(timeout=30)
    assert json.loads(path.read_text())["pid"] == holder.pid
    with RunLock(path):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_the_lock_is_reentrant_in_its_thread_excludes_other_threads_and_is_released(tmp_path):
    path = tmp_path / "sub" / "retrain.lock"
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            take(path)
        except RetrainBusyError as exc:
            refused.append(exc)

    with RunLock(path):
        with RunLock(path):  # run_training inside the nightly job's lock
            pass
        # The inner release did not free it: another thread (the app's second "Train
        # now") is still refused, naming this process.
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert len(refused) == 1 and f"pid {os.getpid()}" in str(refused[0])
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert path.read_text() == ""  # no stale pid for the next reader
    with RunLock(path):
        pass


def test_training_status_names_a_run_in_another_process_and_ignores_a_dead_one(tmp_path):
    home = Home(tmp_path)
    assert training_status(home) is None  # no lock file yet
    holder = child(HOLD_LOCK, str(training_lock_path(home)))
    wait_line(holder, "locked")
    status = training_status(home)
    assert status is not None and status["pid"] == holder.pid and not status["this_process"]
    assert status["started"].startswith(str(datetime.now().year))
    holder.kill()  # the file still names the dead process
    holder.wait(timeout=30)
    assert json.loads(training_lock_path(home).read_text())["pid"] == holder.pid
    assert training_status(home) is None
    with RunLock(training_lock_path(home)):
        assert training_status(home)["this_process"]


def test_a_lock_taken_but_not_yet_written_is_still_refused(tmp_path):
    import fcntl

    path = tmp_path / "retrain.lock"
    with open(path, "w") as f:  # a holder between flock and writing its pid
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(RetrainBusyError, match="pid unknown"):
            take(path)


# ---- low priority ------------------------------------------------------------------------

LOWER = """
    import json, os, subprocess, sys
    from persona.core.train.jobcontrol import lower_priority
    if sys.argv[1] == "torch":
        import torch
    report = lower_priority(threads=int(sys.argv[2]) if len(sys.argv) > 2 else None)
    io = subprocess.run(["ionice", "-p", str(os.getpid())], capture_output=True, text=True)
    print(json.dumps({
        "report": report.__dict__, "summary": report.summary(), "nice": os.nice(0),
        "policy": os.sched_getscheduler(0), "idle": os.SCHED_IDLE, "ionice": io.stdout.strip(),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "torch": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
    }))
"""


def run_lower(*args: str, env: dict | None = None) -> dict:
    # In a child process: an unprivileged process can never raise its priority again.
    proc = child(LOWER, *args, env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_IDLE is Linux only")
def test_lower_priority_makes_the_process_idle_class():
    state = run_lower("plain", env={"OMP_NUM_THREADS": ""})  # "" counts as not set
    assert state["nice"] == 19 and state["report"]["nice"] == 19
    assert state["policy"] == state["idle"] and state["report"]["cpu_idle"]
    cores = os.cpu_count()
    # With the idle CPU class every core may be used: the kernel yields them to anyone else.
    assert state["report"]["threads"] == cores and state["omp"] == str(cores)
    if state["report"]["io_idle"]:
        assert state["ionice"] == "idle"
    else:
        assert "I/O" in state["summary"], "a refused I/O class must be noted for the log"
    assert state["summary"].startswith("nice 19, cpu idle")


def test_lower_priority_limits_torch_threads_already_loaded():
    state = run_lower("torch", "1")
    assert state["torch"] == 1 and state["report"]["threads"] == 1


def test_lower_priority_leaves_the_persons_thread_setting_alone():
    state = run_lower("plain", "1", env={"OMP_NUM_THREADS": "7"})
    assert state["omp"] == "7"


# ---- battery: fixture trees shaped like /sys/class/power_supply --------------------------


def supply(root: Path, name: str, **files: str) -> None:
    d = root / name
    d.mkdir(parents=True)
    for key, value in files.items():
        (d / key).write_text(value + "\n")


def test_desktop_without_a_battery_is_on_mains(tmp_path):
    root = tmp_path / "power_supply"
    root.mkdir()
    assert on_battery(sysfs_root=root, system="linux") is False
    # A wireless mouse's battery (scope Device) does not power the machine.
    supply(root, "hidpp_battery_0", type="Battery", scope="Device", status="Discharging",
           capacity_level="Normal")
    assert on_battery(sysfs_root=root, system="linux") is False


def test_laptop_on_ac(tmp_path):
    root = tmp_path / "power_supply"
    supply(root, "AC", type="Mains", online="1")
    supply(root, "BAT0", type="Battery", status="Charging", capacity="64", present="1")
    assert on_battery(sysfs_root=root, system="linux") is False
    # Charge thresholds: full or "Not charging" while plugged in is still mains.
    (root / "BAT0" / "status").write_text("Not charging\n")
    assert on_battery(sysfs_root=root, system="linux") is False


def test_laptop_on_usb_c_power(tmp_path):
    root = tmp_path / "power_supply"
    supply(root, "ADP1", type="Mains", online="0")
    supply(root, "ucsi-source-psy-USBC000:001", type="USB", online="1")
    supply(root, "BAT1", type="Battery", status="Full")
    assert on_battery(sysfs_root=root, system="linux") is False


def test_laptop_discharging(tmp_path):
    root = tmp_path / "power_supply"
    supply(root, "AC", type="Mains", online="0")
    supply(root, "BAT0", type="Battery", status="Discharging", capacity="80", present="1")
    assert on_battery(sysfs_root=root, system="linux") is True
    # Some firmwares say "Unknown" on battery; an offline adapter settles it.
    (root / "BAT0" / "status").write_text("Unknown\n")
    assert on_battery(sysfs_root=root, system="linux") is True


def test_laptop_discharging_without_an_adapter_entry(tmp_path):
    root = tmp_path / "power_supply"
    supply(root, "BAT0", type="Battery", status="Discharging")
    assert on_battery(sysfs_root=root, system="linux") is True
    (root / "BAT0" / "status").write_text("Unknown\n")
    assert on_battery(sysfs_root=root, system="linux") is None  # nothing says which


def test_unreadable_power_supply_is_unknown(tmp_path):
    assert on_battery(sysfs_root=tmp_path / "missing", system="linux") is None
    root = tmp_path / "power_supply"
    (root / "BAT0" / "type").mkdir(parents=True)  # reading it fails (IsADirectoryError)
    assert on_battery(sysfs_root=root, system="linux") is None
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert on_battery(sysfs_root=not_a_dir, system="linux") is None


PMSET_AC = """Now drawing from 'AC Power'
 -InternalBattery-0 (id=4653155)	100%; charged; 0:00 remaining present: true
"""
PMSET_BATTERY = """Now drawing from 'Battery Power'
 -InternalBattery-0 (id=4653155)	87%; discharging; 5:12 remaining present: true
"""


def test_pmset_output_is_parsed():
    assert parse_pmset(PMSET_AC) is False
    assert parse_pmset(PMSET_BATTERY) is True
    assert parse_pmset("Now drawing from 'UPS Power'\n") is None
    assert on_battery(system="darwin", pmset=lambda: PMSET_BATTERY) is True

    def broken() -> str:
        raise FileNotFoundError("pmset")

    assert on_battery(system="darwin", pmset=broken) is None
    assert on_battery(system="win32") is None


def test_wait_for_mains_waits_until_plugged_in():
    states = iter([True, True, False])
    logs: list[str] = []
    t0 = time.monotonic()
    assert wait_for_mains(poll_seconds=0.02, max_wait_seconds=30, check=lambda: next(states),
                          log=logs.append) is True
    assert time.monotonic() - t0 < 5
    assert logs[0].startswith("on battery: waiting") and logs[-1] == "on mains power, starting"


def test_wait_for_mains_does_not_wait_on_mains_or_unknown():
    logs: list[str] = []
    assert wait_for_mains(check=lambda: False, log=logs.append) is True and logs == []
    assert wait_for_mains(check=lambda: None, log=logs.append) is True
    assert logs == ["power source unknown, starting anyway"]


def test_wait_for_mains_gives_up():
    logs: list[str] = []
    t0 = time.monotonic()
    assert wait_for_mains(poll_seconds=0.02, max_wait_seconds=0.2, check=lambda: True,
                          log=logs.append) is False
    assert 0.2 <= time.monotonic() - t0 < 5
    assert "giving up" in logs[-1]


def test_wait_for_mains_stops_within_a_second_of_a_stop_request():
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    assert wait_for_mains(poll_seconds=600, max_wait_seconds=3600, check=lambda: True,
                          should_stop=stop.is_set) is False
    assert time.monotonic() - t0 < 2.5


# ---- stopping cleanly ------------------------------------------------------------------

LOOP = """
    import signal, time
    from persona.core.train.jobcontrol import GracefulStop
    steps = 0
    with GracefulStop() as stop:
        print("ready", flush=True)
        while not stop() and steps < 2000:
            steps += 1
            time.sleep(0.01)
    print(f"stopped by {stop.signal_name} after {steps} steps", flush=True)
    print("restored" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else "not restored")
"""


def test_sigterm_stops_the_loop_cleanly():
    proc = child(LOOP)
    wait_line(proc, "ready")
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    first, second = out.splitlines()
    assert first.startswith("stopped by SIGTERM after ") and int(first.split()[-2]) < 2000
    assert second == "restored"


def test_a_second_ctrl_c_interrupts():
    proc = child(LOOP.replace("while not stop()", "while True"))
    wait_line(proc, "ready")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert proc.poll() is None  # the first one only asked
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err


def test_old_handlers_come_back_and_request_works_off_the_main_thread():
    seen: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        with GracefulStop() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert stop.requested and stop.signal_name == "SIGTERM" and seen == []
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, old)

    result: list[bool] = []

    def worker() -> None:
        with GracefulStop() as stop:  # no handlers off the main thread; no error either
            stop.request("cancel")
            result.append(stop())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert result == [True]
