"""Best-of-N: several candidate replies, the reward model picks one.

The first candidate is the reply the settings would give anyway (greedy by default); the
others are sampled (``temperature`` > 0). The model reads the prompt once: llama.cpp keeps
it cached, so each further candidate costs only its own tokens. ``budget_s`` is what the
extra candidates may add to the reply the person would have had anyway (however long the
prompt took to read: a cold start is not best-of-N's cost). N is fitted to it as it goes:
another candidate is made only if the time since the first one plus what the next one should
take stays within the budget (and N within ``max_n``). The next one should take as long as
the last sampled one, or, after the first, as long as the first took to generate its tokens
(the backend's ``last_stats``; its prompt is not read again). A sampled candidate still
going when the budget runs out is stopped and dropped (a long ramble would otherwise hold
the reply: 11.5 s for one, measured).

Candidates are checked as the person would get them (``check``: the grounding gate's view
of the text); one the gate would cut ranks below every one it would not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from persona.core.llm.backend import GenerationOptions

Score = Callable[[Sequence[str]], Sequence[float]]
MAX_TEMPERATURE = 1.5  # retries after a repeated reply sample hotter, up to this


@dataclass
class Candidate:
    text: str
    seconds: float
    sampled: bool
    shown: str = ""  # what the person would see (after the gate)
    reward: float | None = None

    @property
    def supported(self) -> bool:
        return " ".join(self.shown.split()) == " ".join(self.text.split())

    def to_dict(self) -> dict:
        return {"text": self.text, "shown": self.shown, "seconds": round(self.seconds, 3),
                "sampled": self.sampled, "supported": self.supported,
                "reward": None if self.reward is None else round(self.reward, 4)}


@dataclass
class Picked:
    """One best-of-N choice: every candidate and the index of the one given."""

    candidates: list[Candidate] = field(default_factory=list)
    chosen: int = 0
    budget_s: float = 0.0

    def to_dict(self) -> dict:
        return {"n": len(self.candidates), "chosen": self.chosen, "budget_s": self.budget_s,
                "candidates": [c.to_dict() for c in self.candidates]}


class BestOfN:
    """``stream`` stands in for ``llm.stream_chat``: it yields the chosen candidate.

    ``score`` None: no choosing, the first candidate is given (side-by-side uses this to
    collect ``min_n`` distinct candidates). ``picks`` holds one ``Picked`` per call (a
    two-part question calls it once per part).
    """

    def __init__(self, score: Score | None, *, max_n: int = 4, budget_s: float = 6.0,
                 temperature: float = 0.8, min_n: int = 1,
                 stop: threading.Event | None = None) -> None:
        self.score, self.max_n, self.budget_s = score, max(1, max_n), budget_s
        self.temperature, self.min_n, self.stop = temperature, max(1, min_n), stop
        self.picks: list[Picked] = []

    def stream(self, llm, messages: list[dict[str, str]], options: GenerationOptions,
               check: Callable[[str], str] | None = None) -> Iterator[str]:
        picked = self.pick(llm, messages, options, check)
        if picked.candidates:
            yield picked.candidates[picked.chosen].text

    def pick(self, llm, messages, options: GenerationOptions,
             check: Callable[[str], str] | None = None) -> Picked:
        out = Picked(budget_s=self.budget_s)
        self.picks.append(out)
        sampled = replace(options, temperature=max(options.temperature, self.temperature))
        start = None  # when the first candidate (the usual reply) was done
        tries = 0
        while len(out.candidates) < self.max_n and tries < self.max_n + 3:
            if self.stop is not None and self.stop.is_set():
                break
            over = start is not None and (time.perf_counter() - start + _next_cost(
                out.candidates, llm) > self.budget_s)
            if len(out.candidates) >= self.min_n and over:
                break
            tries += 1
            t0 = time.perf_counter()
            first = not out.candidates
            deadline = None if start is None or len(out.candidates) < self.min_n \
                else start + self.budget_s
            pieces = _pieces(llm.stream_chat(messages, options if first else sampled),
                             self.stop, deadline)
            text = "".join(pieces).strip()
            start = start if start is not None else time.perf_counter()
            if deadline is not None and time.perf_counter() > deadline:
                break  # cut short by the budget: not a whole reply
            if not text or any(text == c.text for c in out.candidates):
                # Nothing new to choose from: a confident model samples its usual reply again
                # (in a fresh-clone run Qwen 0.5B sampled its greedy reply to "Where does my
                # sister live?" 4 times in 4 at 0.8),
                # so the next try samples from the whole distribution (llama.cpp cuts to the
                # top-p nucleus before it applies the temperature, so while one token holds
                # more than top_p of the mass no temperature changes it), then hotter (at
                # 1.25 over the whole vocabulary Qwen 0.5B wrote word salad once in 6).
                if sampled.top_p < 1.0:
                    sampled = replace(sampled, top_p=1.0)
                else:
                    sampled = replace(sampled, temperature=min(MAX_TEMPERATURE,
                                                               sampled.temperature * 1.25))
                continue
            out.candidates.append(Candidate(text, time.perf_counter() - t0, not first))
        for c in out.candidates:
            c.shown = check(c.text) if check is not None else c.text
        if self.score is not None and len(out.candidates) > 1:
            rewards = self.score([c.text for c in out.candidates])
            for c, r in zip(out.candidates, rewards, strict=True):
                c.reward = float(r)
            out.chosen = max(range(len(out.candidates)),
                             key=lambda i: (out.candidates[i].supported,
                                            out.candidates[i].reward))
        return out


def _next_cost(candidates: list[Candidate], llm) -> float:
    """Seconds the next candidate should take (see the module docstring)."""
    if not candidates:
        return 0.0
    if len(candidates) > 1:
        return candidates[-1].seconds
    decode = getattr(getattr(llm, "last_stats", None), "decode_seconds", None)
    return decode if isinstance(decode, float) and decode > 0 else candidates[0].seconds


def _pieces(stream: Iterator[str], stop: threading.Event | None,
            deadline: float | None = None) -> Iterator[str]:
    try:
        for piece in stream:
            if stop is not None and stop.is_set():
                return
            if deadline is not None and time.perf_counter() > deadline:
                return
            yield piece
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
