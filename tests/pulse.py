"""Start and stop a private PulseAudio server with a null sink (see shared ENVIRONMENT.md)."""

from __future__ import annotations

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
