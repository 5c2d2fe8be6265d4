"""Every computation of one llama.cpp model on one thread of its own.

llama.cpp's CPU backend parallelises with OpenMP, and OpenMP keeps a team of worker threads
per thread that calls it. A live voice turn reads prompts on its pass thread and answers on
the turn's thread, so two teams were alive; with more OpenMP threads than cores, libgomp stops
spinning between parallel regions and sleeps instead, and decoding on 2 cores fell from
~36 to ~21 tokens/s (measured 2026-12-02, Qwen2.5-0.5B: the same reply decoded after a
prefill on a live pool thread). Running every call on one thread keeps one team.

``call(fn)`` runs ``fn`` there and returns its result (or raises its error) to the caller;
``stream(fn)`` runs the generator function ``fn`` there and yields its items to the caller
as they come. Closing the stream early asks the generator to stop after its current item and
waits for it, so the model is free when the caller goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()


class OneThread:
    def __init__(self, name: str = "persona-llama") -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._ident: int | None = None

    def _here(self) -> bool:
        return threading.get_ident() == self._ident

    def _submit(self, fn: Callable[[], T]) -> Future:
        def run():
            self._ident = threading.get_ident()
            return fn()

        return self._pool.submit(run)

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the model's thread (at once when already there)."""
        if self._here():
            return fn()
        return self._submit(fn).result()

    def stream(self, fn: Callable[[], Iterator[T]]) -> Iterator[T]:
        """The items of the generator ``fn()``, made on the model's thread."""
        if self._here():
            yield from fn()
            return
        items: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def run() -> None:
            made = None
            try:
                made = fn()
                for item in made:
                    items.put(item)
                    if stop.is_set():
                        break
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                items.put(_Raised(exc))
            finally:
                close = getattr(made, "close", None)
                if close is not None:
                    close()  # its own clean-up (the model's lock) runs here, at once
                items.put(_END)

        done = self._submit(run)
        try:
            while (item := items.get()) is not _END:
                if isinstance(item, _Raised):
                    raise item.exc
                yield item
        finally:
            stop.set()
            done.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
