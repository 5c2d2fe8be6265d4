"""Best-of-N: the reward model's pick among candidates follows the learnt preference, N
stays within the budget, and the pipeline uses it for typed questions only."""

from __future__ import annotations

import math

import pytest

from benchmarks.prefs_data import synthetic_pairs
from persona.core.llm.backend import GenerationOptions, LLMBackend
from persona.core.pipeline import Pipeline
from persona.core.prefs.bestof import BestOfN
from persona.core.prefs.hook import best_of_for
from persona.core.prefs.service import Preferences
from persona.core.prefs.store import pair
from persona.core.settings import Settings

CANDIDATES = [
    "Your sister Ana lives in Lisbon and works as a nurse there. She moved there years ago "
    "and you visit her often in the spring.",
    "Ana lives in Lisbon.",
    "Your sister Ana lives in Lisbon, where she works as a nurse.",
]


class Candidates(LLMBackend):
    """Stands in for the model where the test must know the candidates to check which one
    is picked (a real model's samples are random; the real model is used below)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts, self.calls = texts, 0

    def stream_chat(self, messages, options=None):
        text = self.texts[self.calls % len(self.texts)]
        self.calls += 1
        yield from (w + " " for w in text.split())

    @property
    def adapter_loaded(self) -> bool:
        return False


def _trained(root, encode, *, shorter: bool) -> Preferences:
    prefs = Preferences(root, encode=encode)
    for p in synthetic_pairs("shorter", 16):
        prefs.record(pair(p.question, *((p.chosen, p.rejected) if shorter
                                        else (p.rejected, p.chosen))))
    assert prefs.status().beats_chance
    return prefs


@pytest.mark.parametrize("shorter", [True, False])
def test_the_chosen_candidate_follows_the_preference(tmp_path, encode, shorter):
    prefs = _trained(tmp_path, encode, shorter=shorter)
    best = BestOfN(prefs.scorer(), max_n=3, budget_s=math.inf)
    chosen = "".join(best.stream(Candidates(CANDIDATES), [], GenerationOptions()))
    assert chosen == (CANDIDATES[1] if shorter else CANDIDATES[0])
    picked = best.picks[0]
    assert len(picked.candidates) == 3 and picked.candidates[0].sampled is False


def test_a_repeated_reply_makes_the_next_sample_hotter():
    class Repeats(Candidates):  # the usual reply twice, then something new
        temperatures: list[float] = []
        top_ps: list[float] = []

        def stream_chat(self, messages, options=None):
            self.temperatures.append(options.temperature)
            self.top_ps.append(options.top_p)
            text = CANDIDATES[0] if self.calls < 3 else CANDIDATES[1]
            self.calls += 1
            yield text

    llm = Repeats(CANDIDATES)
    best = BestOfN(None, max_n=2, min_n=2, budget_s=math.inf, temperature=0.8)
    list(best.stream(llm, [], GenerationOptions(temperature=0.0)))
    assert [c.text for c in best.picks[0].candidates] == CANDIDATES[:2]
    # llama.cpp applies top-p before the temperature: a retry first samples the whole
    # distribution, then hotter.
    assert llm.top_ps == [0.95, 0.95, 1.0, 1.0]
    assert llm.temperatures == [0.0, 0.8, 0.8, 1.0]


def test_n_is_fitted_to_the_budget_and_a_candidate_the_gate_cuts_ranks_last(tmp_path, encode):
    prefs = _trained(tmp_path, encode, shorter=True)
    none_left = BestOfN(prefs.scorer(), max_n=3, budget_s=0.0)
    assert "".join(none_left.stream(Candidates(CANDIDATES), [], GenerationOptions())) \
        == CANDIDATES[0]  # no time for a second one: the usual reply
    gated = BestOfN(prefs.scorer(), max_n=3, budget_s=math.inf)
    chosen = "".join(gated.stream(Candidates(CANDIDATES), [], GenerationOptions(),
                                  check=lambda t: "" if t == CANDIDATES[1] else t))
    assert chosen == CANDIDATES[2]


def test_the_pipeline_chooses_for_typed_questions_once_the_model_beats_chance(tmp_path,
                                                                              encode):
    pipe = Pipeline(tmp_path / "home", settings=Settings(best_of_n=3, best_of_seconds=60))
    pipe.remember_text("My sister Ana lives in Lisbon and works as a nurse.")
    assert best_of_for(pipe, None, typed=True, spoken=False) is None  # no choices yet
    _trained(pipe.home.root, encode, shorter=True)
    pipe.__dict__.pop("prefs", None)  # re-read the trained model
    pipe.__dict__["llm"] = Candidates(CANDIDATES)
    reply = pipe.reply("Where does my sister live?")
    assert reply.text == CANDIDATES[1]
    assert len(reply.best_of[0].candidates) == 3
    # A spoken reply keeps its first-audio path, a live turn is never delayed.
    assert best_of_for(pipe, None, typed=True, spoken=True) is None
    assert best_of_for(pipe, None, typed=False, spoken=False) is None
    assert best_of_for(pipe, False, typed=True, spoken=False) is None


@pytest.mark.slow
def test_best_of_n_with_the_real_model_picks_the_shortest_sampled_reply(tmp_path, encode):
    pipe = Pipeline(tmp_path / "home", settings=Settings(
        best_of_n=3, best_of_seconds=120, max_new_tokens=40, best_of_temperature=1.0))
    pipe.remember_text("My sister Ana lives in Lisbon and works as a nurse at the hospital.")
    _trained(pipe.home.root, encode, shorter=True)
    reply = pipe.reply("Tell me about my sister.")
    picked = reply.best_of[0]
    assert len(picked.candidates) >= 2  # sampled replies differ from the greedy one
    chosen = picked.candidates[picked.chosen]
    assert reply.text == chosen.shown.strip()
    supported = [c for c in picked.candidates if c.supported] or picked.candidates
    assert chosen.reward == max(c.reward for c in supported)
    assert len(chosen.text.split()) == min(len(c.text.split()) for c in supported)


def test_a_sampled_candidate_still_going_at_the_budget_is_dropped(tmp_path, encode,
                                                                   monkeypatch):
    """A clock that moves 1 s per word stands in for time, so the test needs no slow model;
    the stand-in model says its first reply took 1 s to generate (the rest: its prompt)."""
    from types import SimpleNamespace

    import persona.core.prefs.bestof as bestof

    now = [0.0]
    monkeypatch.setattr(bestof.time, "perf_counter", lambda: now[0])

    class Ticking(Candidates):
        last_stats = SimpleNamespace(decode_seconds=1.0)

        def stream_chat(self, messages, options=None):
            for piece in super().stream_chat(messages, options):
                now[0] += 1.0
                yield piece

    prefs = _trained(tmp_path, encode, shorter=True)
    first = CANDIDATES[2]  # 12 words: 12 s
    # 2 s more: a second one is expected to take 1 s, so the long one (23 words) is started,
    # cut at 14 s and dropped; the first is given.
    best = BestOfN(prefs.scorer(), max_n=3, budget_s=2.0)
    assert "".join(best.stream(Ticking([first, CANDIDATES[0]]), [],
                               GenerationOptions())) == first
    assert [c.text for c in best.picks[0].candidates] == [first]
    # 5 s more: the short one (4 words) ends at 16 s and is kept; a third would take as long
    # as it did (4 s), past 17 s, so none is started. The shorter one is chosen.
    now[0] = 0.0
    roomy = BestOfN(prefs.scorer(), max_n=3, budget_s=5.0)
    llm = Ticking([first, CANDIDATES[1], CANDIDATES[0]])
    assert "".join(roomy.stream(llm, [], GenerationOptions())) == CANDIDATES[1]
    assert [c.text for c in roomy.picks[0].candidates] == [first, CANDIDATES[1]]
    assert llm.calls == 2
