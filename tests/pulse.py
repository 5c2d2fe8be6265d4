"""Start and stop a private PulseAudio server with a null sink (see shared ENVIRONMENT.md)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path


class PulseServer:
    def __init__(self, runtime_dir: Path, sink: str = "vsink") -> None:
        self.runtime_dir = Path(runtime_dir)
        self.sink = sink
        self._old_env: dict[str, str | None] = {}

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), check=check, capture_output=True, text=True,
                              timeout=30)

    def start(self) -> None:
        for tool in ("pulseaudio", "pactl", "paplay"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed; run scripts/setup.sh")
        self._old_env = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
        os.environ["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        os.environ.pop("PULSE_SERVER", None)
        self._run("pulseaudio", "-D", "--exit-idle-time=-1", "--system=false", "-n",
                  "--disallow-exit", "--log-target=stderr",
                  f"--load=module-null-sink sink_name={self.sink}",
                  "--load=module-native-protocol-unix")
        for _ in range(100):
            if self._run("pactl", "info", check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("PulseAudio did not start")
        self._run("pactl", "set-default-sink", self.sink)
        self._run("pactl", "set-default-source", f"{self.sink}.monitor")

    def play(self, wav: Path) -> subprocess.Popen:
        """Start playing ``wav`` into the null sink; returns the running paplay."""
        return subprocess.Popen(["paplay", "-d", self.sink, str(wav)])

    def stop(self) -> None:
        self._run("pulseaudio", "--kill", check=False)
        for k, v in self._old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Monitor:
    """What reached the null sink, recorded from its monitor (the default source) at 16 kHz."""

    RATE = 16000

    def __init__(self) -> None:
        self._blocks: list = []

    def audio(self):
        import numpy as np

        blocks = list(self._blocks)  # appended by PortAudio's thread
        return np.concatenate(blocks)[:, 0] if blocks else np.zeros(0, dtype="float32")

    def heard_seconds(self, threshold: float = 0.05) -> float:
        """From the first to the last sample louder than ``threshold`` (0: nothing heard)."""
        import numpy as np

        loud = np.flatnonzero(np.abs(self.audio()) > threshold)
        return 0.0 if len(loud) == 0 else (loud[-1] - loud[0]) / self.RATE

    def settled(self, wait, *, still_ms: int = 600, timeout_ms: int = 15_000) -> float:
        """``heard_seconds()`` once it has stopped growing for ``still_ms``; ``wait(ms)``
        waits and keeps the caller's events going (e.g. ``qtbot.wait``). What a player
        wrote is heard after the sink's latency, longer on a loaded machine."""
        last, still, spent = self.heard_seconds(), 0, 0
        while still < still_ms and spent < timeout_ms:
            wait(100)
            spent += 100
            now = self.heard_seconds()
            still, last = (still + 100 if now == last else 0), now
        return last


@contextlib.contextmanager
def listening():
    """``with listening() as heard:`` records the sink's monitor for the block (needs the
    ``pulse`` fixture's server); ``heard.heard_seconds()`` says how much sound came out."""
    import sounddevice as sd

    monitor = Monitor()
    with sd.InputStream(samplerate=Monitor.RATE, channels=1, dtype="float32",
                        callback=lambda data, _n, _t, _s: monitor._blocks.append(data.copy())):
        yield monitor
