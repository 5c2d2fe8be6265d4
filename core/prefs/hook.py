"""Where best-of-N meets the pipeline: two functions ``Pipeline.reply`` calls.

By default only a typed question whose reply is not spoken is answered best-of-N: a spoken
reply keeps its first-audio path as it is (words are spoken while they are generated), and
a live voice turn is never delayed. ``best_of=True`` asks for it anyway (the app's typed
questions when the person chose so), ``False`` never, a ``BestOfN`` is used as given.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from persona.core.llm.backend import GenerationOptions
from persona.core.prefs.bestof import BestOfN


def best_of_for(pipe, best_of, *, typed: bool, spoken: bool,
                stop: threading.Event | None = None) -> BestOfN | None:
    """The chooser for one reply, or None (one plain streamed reply)."""
    if isinstance(best_of, BestOfN):
        return best_of
    if best_of is False or (best_of is None and (not typed or spoken)):
        return None
    settings = pipe.settings
    if settings.best_of_n <= 1:
        return None
    score = pipe.prefs.scorer()
    if score is None:  # the reward model does not beat chance (yet)
        return None
    return BestOfN(score, max_n=settings.best_of_n, budget_s=settings.best_of_seconds,
                   temperature=settings.best_of_temperature, stop=stop)


def model_stream(pipe, messages: list[dict[str, str]], options: GenerationOptions,
                 best: BestOfN | None, part: str) -> Iterator[str]:
    """The model's reply pieces: streamed as they come, or the chosen candidate at once."""
    if best is None:
        return pipe.llm.stream_chat(messages, options)

    def check(text: str) -> str:  # what the grounding gate would let through
        return "".join(pipe._gated(iter([text]), pipe._grounding_gate(messages, part)))

    return best.stream(pipe.llm, messages, options, check)
