"""Stopping a llama.cpp computation in the middle of a batch.

A live turn reads the prompt while the person speaks; at the key's release that reading must
give the CPU to the final transcription at once. Checked only between chunks, it went on for
up to a chunk (32 tokens, 0.1-0.25 s on 2 cores) beside Whisper, and both teams of spinning
threads slowed each other: the final transcription took 0.49 s in live turns against 0.37 s
in plain ones (benchmarks/bench_voice_turn.py, 2026-12-02).

llama.cpp asks an abort callback between the nodes of its compute graph (~700 per batch for
Qwen2.5-0.5B) and, when it answers true, ``llama_decode`` returns 2 and the batch's cells are
not kept (``Llama.eval`` removes every cell past ``n_tokens`` before it reads again). A Python
callback would take the GIL at every node, stalling the compute thread whenever another
Python thread holds it, so the callback here is C: the C library's ``strlen`` over a two-byte
buffer, which returns 0 (false) while the first byte is 0 and 1 (true) once it is set —
``bool f(void *data)`` in effect, with no Python in the loop.

``StopSignal`` is a ``threading.Event`` that also tells listeners when it is set, so one
flag the caller already has (the live turn's "stop the pass") reaches the running batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable

from persona.core.llm import llama_log


class StopSignal(threading.Event):
    """An Event whose ``set`` also calls the listeners ``listen`` added, at once."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Callable[[], None]] = []
        self._guard = threading.Lock()

    def set(self) -> None:
        with self._guard:  # a listener being removed is either called or gone, never half
            super().set()
            for listener in list(self._listeners):
                listener()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when the signal is set (at once if it is set already); returns
        the function that stops listening."""
        with self._guard:
            self._listeners.append(listener)
            if self.is_set():
                listener()

        def stop() -> None:
            with self._guard:
                self._listeners.remove(listener)

        return stop


@functools.cache
def _strlen_address() -> int | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        return ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError, TypeError):  # no C library here: chunk ends only
        return None


class AbortSwitch:
    """The abort flag of one llama.cpp context: ``arm(signal)`` for the duration of a read,
    the flag follows ``signal``; otherwise it is clear."""

    def __init__(self, ctx) -> None:
        import llama_cpp

        llama_log.route()  # llama.cpp's lines into logging (a stop's as debug)
        self._flag = ctypes.create_string_buffer(2)  # [flag, NUL]
        address = _strlen_address()
        self.available = address is not None
        if self.available:
            # Kept on self: llama.cpp holds the pointers, not references.
            self._callback = llama_cpp.ggml_abort_callback(address)
            llama_cpp.llama_set_abort_callback(ctx, self._callback,
                                               ctypes.cast(self._flag, ctypes.c_void_p))

    @property
    def tripped(self) -> bool:
        return self._flag.raw[0] != 0

    def _trip(self) -> None:
        self._flag[0] = b"\x01"

    def arm(self, signal: threading.Event | None):
        """A context manager: while inside, setting ``signal`` (a ``StopSignal``; a plain
        Event is only seen between batches) stops the batch being computed. On leaving, the
        flag is cleared after the signal stops being heard, so no later batch is stopped."""
        return _Armed(self, signal)


class _Armed:
    def __init__(self, switch: AbortSwitch, signal) -> None:
        self.switch, self.signal, self._unlisten = switch, signal, None

    def __enter__(self) -> AbortSwitch:
        if self.switch.available and isinstance(self.signal, StopSignal):
            self._unlisten = self.signal.listen(self.switch._trip)
        self._log = llama_log.watching(self.switch)  # the stop's log lines are expected
        return self._log.__enter__()

    def __exit__(self, *exc) -> None:
        if self._unlisten is not None:
            self._unlisten()
        self._log.__exit__(*exc)
        self.switch._flag[0] = b"\x00"
