"""OneThread: calls and streams run on one thread of their own (core/llm/one_thread.py)."""

from __future__ import annotations

import threading

import pytest

from persona.core.llm.one_thread import OneThread


def test_calls_and_streams_run_on_one_thread_that_is_not_the_caller_s():
    one = OneThread()
    where = one.call(threading.get_ident)
    assert where != threading.get_ident()

    def numbers():
        for i in range(5):
            yield i, threading.get_ident()

    got = list(one.stream(numbers))
    assert [i for i, _ in got] == list(range(5)) and {t for _, t in got} == {where}
    assert one.call(lambda: one.call(threading.get_ident)) == where  # from inside: at once
    one.close()


def test_an_error_reaches_the_caller_and_closing_early_stops_the_generator():
    one = OneThread()
    made: list[int] = []

    def failing():
        yield 1
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        list(one.stream(failing))

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    stream = one.stream(endless)
    assert next(stream) == 0
    stream.close()  # returns once the generator has stopped
    count = len(made)
    assert one.call(lambda: len(made)) == count  # nothing more was made after the close
    one.close()
