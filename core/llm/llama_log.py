"""llama.cpp's log lines go to Python's logging, not straight to the terminal.

llama-cpp-python prints every line llama.cpp logs at error level to stderr. A prefill stopped
at the key's release (core/llm/abort.py) is such a line ("decode: removing memory module
entries for seq_id = 0, pos = [542, +inf)"), though nothing is wrong: it would land in the
person's terminal under `persona listen` on every turn. Here each line goes to the
``persona.llama`` logger at its level (llama.cpp's info and debug chatter as debug), and the
lines of a decode that a stop signal aborted on purpose as debug too.
"""

from __future__ import annotations

import functools
import logging
import threading

log = logging.getLogger("persona.llama")

# ggml_log_level today: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last
# line); llama-cpp-python's table is of the older order. Warnings (e.g. "n_ctx_per_seq <
# n_ctx_train" at every load) show with `persona -v`, as info.
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.DEBUG, 3: logging.INFO,
           4: logging.ERROR}

_state = threading.local()  # per thread: the abort switch in force, the last line's level


class watching:  # noqa: N801 - a context manager, used like a function
    """Within: llama.cpp's lines on this thread while ``switch`` (an ``AbortSwitch``) is
    tripped belong to a stop asked for, and are logged as debug."""

    def __init__(self, switch) -> None:
        self.switch = switch

    def __enter__(self):
        _state.switch = self.switch
        return self.switch

    def __exit__(self, *exc) -> None:
        _state.switch = None


@functools.cache
def route() -> None:
    """Install the route (once per process; llama.cpp's log callback is global)."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data) -> None:
        if level == 5:
            level = getattr(_state, "last", 1)
        _state.last = level
        switch = getattr(_state, "switch", None)
        stopped = switch is not None and switch.tripped
        py_level = logging.DEBUG if stopped else _LEVELS.get(level, logging.DEBUG)
        if log.isEnabledFor(py_level):
            line = text.decode("utf-8", errors="replace").rstrip()
            if line:
                log.log(py_level, "%s", line)

    route.callback = callback  # llama.cpp keeps the pointer, not a reference
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
