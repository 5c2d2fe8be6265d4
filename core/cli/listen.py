"""Push-to-talk from a terminal: Enter starts recording, Enter stops it.

With ``reply`` the recording feeds a ``LiveTurn``, as in the app: the question is worked on
while it is spoken, and the answer starts soon after Enter."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

from persona.core.audio.capture import Recorder
from persona.core.audio.io import meter_fraction
from persona.core.errors import AudioError
from persona.core.live_turn import LiveTurn
from persona.core.pipeline import Heard, Pipeline, Reply


def _meter(dbfs: float) -> None:
    bars = int(round(meter_fraction(dbfs) * 30))
    sys.stderr.write("\r  recording " + "#" * bars + " " * (30 - bars) + f" {dbfs:6.1f} dBFS")
    sys.stderr.flush()


def listen_loop(pipe: Pipeline, *, once: bool = False, reply: bool = False,
                log: Callable[[str], None] = print,
                read_line: Callable[[], str] = sys.stdin.readline
                ) -> Iterator[tuple[Heard, Reply | None]]:
    """Yield (heard, reply) for each utterance until end of input or 'q'.

    An utterance that is silent or unintelligible is reported and skipped; nothing is stored.
    """
    limit_hit = threading.Event()
    recorder = Recorder.from_settings(pipe.settings, on_level=_meter, on_limit=limit_hit.set)
    log("Loading the speech model…")
    pipe.transcriber.warm_up()
    pipe.warm_between_turns = not once  # a session of turns: read the next one's start early
    while True:
        log("Press Enter to talk (q + Enter to quit).")
        line = read_line()
        if not line or line.strip().lower() == "q":
            return
        limit_hit.clear()
        live = LiveTurn(pipe) if reply else None
        recorder.on_audio = live.feed if live is not None else None
        recorder.start()
        log("Listening ... press Enter to stop.")
        read_line()
        utterance = recorder.stop()
        sys.stderr.write("\n")
        if limit_hit.is_set():
            log(f"(stopped at the {pipe.settings.max_record_seconds:.0f} s limit)")
        try:
            if live is not None:
                heard, answer = live.finish(utterance, speak=True)
            else:
                heard, answer = pipe.hear(utterance), None
        except AudioError as exc:
            log(f"Nothing stored: {exc}")
            if once:
                raise
            continue
        yield heard, answer
        if once:
            return
