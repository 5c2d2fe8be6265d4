"""Shared test set-up: no network, no file read from outside the repository, offscreen Qt,
one model cache, real audio helpers.

Every test runs with Internet sockets made to fail, so a test that tries to reach the
network fails instead of quietly downloading something.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One model cache (joined files, conversions) for every test, inside the repository: tests
# never write into the person's own cache, and a conversion is made once for all test runs.
os.environ.setdefault("PERSONA_CACHE", str(ROOT / ".pytest_cache" / "persona-cache"))

# MLX binds its BLAS when first imported, which collection may do: give it the system's
# OpenBLAS first, as the app does (core/llm/mlx_blas.py; ~15x faster on Linux).
from persona.core.llm.mlx_blas import use_system_blas  # noqa: E402

use_system_blas()

# Every file a test opens must be one a fresh clone has (tests/outside_reads.py).
from tests.outside_reads import OutsideReads  # noqa: E402

OUTSIDE = OutsideReads.install(ROOT)


@pytest.fixture(autouse=True)
def reads_nothing_outside():
    """Fail a test that opened a file outside the repository, the environment, tmp, the
    per-user cache and the system's folders: a fresh clone has nothing beside it."""
    OUTSIDE.take()
    yield
    outside = OUTSIDE.take()
    if outside:
        pytest.fail(f"the test opened files outside the repository: {sorted(set(outside))}; "
                    "ship, generate or install (PyPI) what it needs instead", pytrace=False)


class NetworkBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guard(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        raise NetworkBlocked(f"test tried to open a network connection to {address!r}")


def _blocked_connect(self, address):
    _guard(self, address)
    return _real_connect(self, address)


def _blocked_connect_ex(self, address):
    _guard(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Internet connections fail in every test (Unix sockets, e.g. PulseAudio, still work)."""
    monkeypatch.setattr(socket.socket, "connect", _blocked_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _blocked_connect_ex)
    yield


@pytest.fixture
def home(tmp_path) -> Path:
    """A fresh, empty Persona home folder."""
    h = tmp_path / "home"
    h.mkdir()
    return h


def espeak_wav(text: str, path: Path, *, speed: int = 160, pitch: int = 50,
               amplitude: int = 100, voice: str = "en-us") -> Path:
    """Speak ``text`` with espeak-ng into a WAV file (a real voice signal for the tests)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed; run scripts/setup.sh (it installs it)")
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude),
                    "-w", str(path), text], check=True, capture_output=True)
    return path


@pytest.fixture
def speak(tmp_path):
    """``speak("hello", **espeak_options) -> Path`` of a fresh WAV."""
    counter = iter(range(10_000))

    def _speak(text: str, **kw) -> Path:
        return espeak_wav(text, tmp_path / f"spoken-{next(counter)}.wav", **kw)

    return _speak


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    """A real PulseAudio server with a null sink whose monitor is the default source.

    CI has no sound card: whatever ``paplay`` plays into the sink can be recorded through
    sounddevice from the monitor, a real audio path end to end.
    """
    from tests.pulse import PulseServer

    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
