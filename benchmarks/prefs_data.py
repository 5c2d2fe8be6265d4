"""Synthetic choices between replies with a known preference, for the reward model's tests
and benchmark (benchmarks/bench_prefs.py).

Replies are made of sentences an assistant might say about the sample persona's life; a
simulated person always picks by one rule: the shorter reply, the one without hedging, or
the one about music (a preference only the reply's sentence vector can see).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

QUESTIONS = [
    "Where does my sister live?", "What did I do last weekend?", "How was my trip?",
    "What is my cat called?", "When is my next cello lesson?", "What should I cook tonight?",
    "How have I been feeling lately?", "Who did I meet on Friday?",
    "What did I say about work?", "What do I like to read?", "Where did I go hiking?",
    "What was the concert like?", "What do I do on Sundays?", "How is my garden doing?",
]
OTHER = [
    "Your sister Ana lives in Lisbon and works as a nurse.",
    "You adopted a grey cat called Miso in January.",
    "Last weekend you walked along the harbour and watched the ferries.",
    "You said the new project at work keeps you busy until late.",
    "You planted tomatoes and basil in the garden in May.",
    "You met Priya for coffee on Friday afternoon.",
    "You went hiking on the ridge above the fjord in September.",
    "You cooked a lentil soup on Tuesday and liked it a lot.",
    "On Sundays you usually call your parents.",
    "You felt tired but calm most of last week.",
    "You are reading a novel about a lighthouse keeper.",
    "Your train to Oslo was late again on Monday.",
]
MUSIC = [
    "On Thursdays you play the cello with your teacher Mr. Haugen.",
    "You practised the Bach suite for an hour every evening.",
    "The concert at the cathedral moved you; the choir sang Arvo Pärt.",
    "You bought new strings for your cello in March.",
    "You and your friends played string quartets on Saturday.",
    "You have been listening to old jazz records while you cook.",
]
HEDGES = ["Maybe", "I think", "Probably", "Perhaps", "It seems"]


@dataclass(frozen=True)
class SyntheticPair:
    question: str
    chosen: str
    rejected: str


def _reply(rng: random.Random, pool: list[str], n: int) -> str:
    return " ".join(rng.sample(pool, n))


def _shorter(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample([1, 2, 3, 4], 2)
    short, long_ = _reply(rng, OTHER + MUSIC, min(a, b)), _reply(rng, OTHER + MUSIC, max(a, b))
    return short, long_


def _direct(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(1, 3)
    plain = _reply(rng, OTHER + MUSIC, n)
    other = _reply(rng, OTHER + MUSIC, n)
    hedge = rng.choice(HEDGES)
    hedged = hedge + " " + other[0].lower() + other[1:]
    return plain, hedged


def _music(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(1, 2)
    return _reply(rng, MUSIC, n), _reply(rng, OTHER, n)


RULES: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "shorter": _shorter, "no hedging": _direct, "about music": _music}


def synthetic_pairs(rule: str, n: int, seed: int = 0) -> list[SyntheticPair]:
    """``n`` pairs whose chosen reply follows ``rule`` (one of ``RULES``)."""
    rng = random.Random(f"{rule}-{seed}")
    make = RULES[rule]
    return [SyntheticPair(rng.choice(QUESTIONS), *make(rng)) for _ in range(n)]
