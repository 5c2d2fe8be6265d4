"""The stop signal and the abort switch (core/llm/abort.py) without a model; the switch on a
real llama.cpp prefill is tested in test_llamacpp_backend.py."""

from __future__ import annotations

import ctypes
import threading

from persona.core.llm.abort import StopSignal, _strlen_address


def test_a_stop_signal_calls_its_listeners_when_set_and_at_once_when_already_set():
    signal, heard = StopSignal(), []
    stop = signal.listen(lambda: heard.append("a"))
    assert heard == [] and not signal.is_set()
    signal.set()
    assert heard == ["a"] and signal.is_set()
    signal.listen(lambda: heard.append("b"))  # already set: called at once
    assert heard == ["a", "b"]
    stop()
    signal.set()
    assert heard == ["a", "b", "b"]  # "a" no longer listens
    assert isinstance(signal, threading.Event) and signal.wait(0)


def test_the_c_callback_reads_the_flag_as_a_bool():
    """The abort callback is the C library's strlen over [flag, NUL]: 0 while clear, 1 once
    set — what llama.cpp's ``bool (*)(void *)`` needs, with no Python in its loop."""
    address = _strlen_address()
    assert address  # Linux and macOS have a C library
    callback = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)(address)
    flag = ctypes.create_string_buffer(2)
    pointer = ctypes.cast(flag, ctypes.c_void_p)
    assert callback(pointer) is False
    flag[0] = b"\x01"
    assert callback(pointer) is True
    flag[0] = b"\x00"
    assert callback(pointer) is False
