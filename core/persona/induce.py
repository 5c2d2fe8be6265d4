"""Induce the persona profile from the person's memories, deterministically and offline.

Only the person's own words count (``speaker == "assistant"`` is skipped). A subfield the
person edited (see :mod:`persona.core.persona.profile`) is kept as it is and reported as kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from persona.core.emotion.base import LABELS
from persona.core.memory.schema import Memory, text_hash
from persona.core.persona import extract
from persona.core.persona.profile import (
    Profile,
    flatten,
    is_empty,
    load_induced,
    load_profile,
    save_induced,
    save_profile,
    set_field,
)
from persona.core.persona.textstats import (
    FUNCTION_WORDS,
    is_content,
    ngrams,
    sentences,
    singular,
    words,
)

# The subfields induction may write; the others (pronouns, summary, traits, reply_style)
# are the person's alone.
INDUCED_FIELDS = (
    "identity.name", "demographics.age", "demographics.location", "demographics.occupation",
    "demographics.languages", "personality.emotion_distribution",
    "personality.dominant_emotion", "memory.key_facts", "memory.frequent_topics",
    "pattern.active_hours", "pattern.avg_sentence_words", "pattern.typical_phrases",
    "pattern.speaking_rate", "preference.likes", "preference.dislikes",
)
# Articles, prepositions and conjunctions: a typical phrase neither starts nor ends with one.
_EDGE = frozenset({"a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with",
                   "and", "or", "but", "as", "so", "than"})


@dataclass
class InductionOptions:
    max_topics: int = 8
    max_phrases: int = 6
    max_facts: int = 10
    max_hours: int = 4
    max_likes: int = 5
    tz: tzinfo | None = None  # for active hours; None = this computer's local time
    audio_dir: Path | None = None  # where Memory.audio_path lives, for the speaking rate


@dataclass
class FieldChange:
    field: str  # "section.subfield"
    old: Any
    new: Any


@dataclass
class InductionReport:
    n_memories: int  # the person's memories used
    changed: list[FieldChange] = field(default_factory=list)
    kept: list[FieldChange] = field(default_factory=list)  # person's value; .new = induced
    unchanged: list[str] = field(default_factory=list)
    induced: dict[str, Any] = field(default_factory=dict)  # the new sidecar record

    def summary(self) -> str:
        lines = [f"Induced from {self.n_memories} memories."]
        lines += [f"  changed {c.field}: {c.old!r} -> {c.new!r}" for c in self.changed]
        lines += [f"  kept {c.field} (edited by you): {c.old!r}" for c in self.kept]
        return "\n".join(lines)


def induce_fields(memories: list[Memory], options: InductionOptions | None = None
                  ) -> dict[str, Any]:
    """What induction finds in ``memories`` for every field in INDUCED_FIELDS (empty if
    nothing), as JSON-able values. Pure: no files."""
    opt = options or InductionOptions()
    mems = sorted((m for m in memories if m.speaker != "assistant"), key=lambda m: m.ts)
    sents = [s for m in mems for s in sentences(m.text)]
    style = phrases(mems, opt.max_phrases)
    # Phrases are style, not subject ("honest" in "to be honest"): cut them before topics.
    docs = [_without(words(m.text), style) for m in mems]
    return {
        "identity.name": extract.last_match(extract.NAME, sents),
        "demographics.age": extract.age(sents),
        "demographics.location": extract.last_match(extract.LOCATION, sents),
        "demographics.occupation": extract.last_match(extract.OCCUPATION, sents),
        "demographics.languages": extract.languages(sents),
        **emotion_fields(mems),
        "memory.key_facts": key_facts(mems, opt.max_facts),
        "memory.frequent_topics": topics(docs, opt.max_topics),
        "pattern.active_hours": active_hours(mems, opt.max_hours, opt.tz),
        "pattern.avg_sentence_words": (round(sum(len(words(s)) for s in sents) / len(sents), 1)
                                       if sents else None),
        "pattern.typical_phrases": style,
        "pattern.speaking_rate": speaking_rate(mems, opt.audio_dir),
        "preference.likes": extract.ranked_objects([extract.LIKES, extract.FAVOURITE], sents,
                                                   opt.max_likes),
        "preference.dislikes": extract.ranked_objects([extract.DISLIKES], sents, opt.max_likes),
    }


def induce_profile(memories: list[Memory], profile: Profile, *,
                   induced: dict[str, Any] | None = None,
                   options: InductionOptions | None = None) -> tuple[Profile, InductionReport]:
    """Fill ``profile`` from ``memories``, keeping every subfield the person set.

    ``induced`` is what induction wrote last time (the sidecar); without it, any filled
    subfield counts as the person's. The report's ``induced`` is the next sidecar.
    """
    previous = dict(induced or {})
    found = induce_fields(memories, options)
    current = flatten(profile)
    report = InductionReport(n_memories=sum(m.speaker != "assistant" for m in memories),
                             induced=previous)
    for key in INDUCED_FIELDS:
        cur, new = current[key], found[key]
        owned = is_empty(cur) if key not in previous else cur == previous[key]
        if not owned:
            if cur != new:
                report.kept.append(FieldChange(key, cur, new))
            continue
        report.induced[key] = new
        if cur == new:
            report.unchanged.append(key)
        else:
            profile = set_field(profile, key, new)
            report.changed.append(FieldChange(key, cur, new))
    return profile, report


def induce_profile_file(memories: list[Memory], path: Path,
                        options: InductionOptions | None = None
                        ) -> tuple[Profile, InductionReport]:
    """Load the profile at ``path``, induce, and save it and its sidecar (atomically)."""
    profile, report = induce_profile(memories, load_profile(path),
                                     induced=load_induced(path), options=options)
    save_profile(profile, path)
    save_induced(path, report.induced)
    return profile, report


def emotion_fields(mems: list[Memory]) -> dict[str, Any]:
    counts = Counter(m.emotion for m in mems if m.emotion in LABELS)
    total = sum(counts.values())
    ranked = sorted(counts, key=lambda e: (-counts[e], LABELS.index(e)))
    return {"personality.emotion_distribution": {e: round(counts[e] / total, 3) for e in ranked},
            "personality.dominant_emotion": ranked[0] if ranked else ""}


def key_facts(mems: list[Memory], limit: int) -> list[str]:
    """First-person fact sentences, newest first, each once."""
    out, seen = [], set()
    for m in reversed(mems):
        for s in sentences(m.text):
            h = text_hash(s)
            if h not in seen and extract.is_key_fact(s):
                seen.add(h)
                out.append(s)
    return out[:limit]


def topics(docs: list[list[str]], limit: int) -> list[str]:
    """Content words and two-word phrases by a damped tf-idf: recurring across memories
    counts most, but a word in every memory is damped by log(1 + N/df)."""
    vocab = {w for d in docs for w in d}
    norm = [[singular(w, vocab) for w in d] for d in docs]
    n = len(docs)
    score: Counter = Counter()
    df: Counter = Counter()
    for d in norm:
        grams = Counter(w for w in d if is_content(w))
        grams.update(" ".join(g) for g in ngrams(d, 2) if all(is_content(w) for w in g))
        for term, tf in grams.items():
            score[term] += 1 + math.log(tf)
            df[term] += 1
    min_df = 2 if n >= 3 else 1
    ranked = sorted((t for t in score if df[t] >= min_df),
                    key=lambda t: (-score[t] * math.log(1 + n / df[t]), t))
    chosen: list[str] = []
    for term in ranked:  # a phrase and its own words are one topic
        if not set(term.split()) & {w for c in chosen for w in c.split()}:
            chosen.append(term)
        if len(chosen) == limit:
            break
    return chosen


def phrases(mems: list[Memory], limit: int) -> list[str]:
    """2-4-word phrases said in at least two memories, within one sentence."""
    docs = [[g for s in sentences(m.text) for k in (2, 3, 4) for g in ngrams(words(s), k)]
            for m in mems]
    df: Counter = Counter()
    for d in docs:
        df.update({" ".join(g) for g in d})  # a phrase repeated in one memory counts once
    cands = []
    for p, count in df.items():
        toks = p.split()
        # "to" may open a phrase ("to be honest") but not close one ("went to").
        if count < 2 or (toks[0] in _EDGE and toks[0] != "to") or toks[-1] in _EDGE:
            continue
        if len(toks) < 3 and all(w in FUNCTION_WORDS or not is_content(w) for w in toks):
            continue  # "i am", "you know"; but "you know what" and "i guess" pass
        cands.append((-count * (1 + 0.5 * (len(toks) - 1)), p))
    chosen: list[str] = []
    for _, p in sorted(cands):
        if not any(p in c or c in p for c in chosen):
            chosen.append(p)
        if len(chosen) == limit:
            break
    return chosen


def _without(tokens: list[str], cut: list[str]) -> list[str]:
    text = f" {' '.join(tokens)} "
    for p in cut:
        text = text.replace(f" {p} ", " | ")
    return text.split()  # "|" stays, so no phrase is formed across a cut


def active_hours(mems: list[Memory], limit: int, tz: tzinfo | None) -> list[int]:
    """The busiest hours of the day, enough to cover half of the memories (at most limit)."""
    hist = Counter(m.ts.astimezone(tz).hour for m in mems)
    hours, covered = [], 0
    for hour, count in sorted(hist.items(), key=lambda hc: (-hc[1], hc[0])):
        if covered >= len(mems) / 2 or len(hours) == limit or (count < 2 and hours):
            break
        hours.append(hour)
        covered += count
    return sorted(hours)


def speaking_rate(mems: list[Memory], audio_dir: Path | None) -> float | None:
    """Words per minute over the voice memories whose recordings are still on disk."""
    if audio_dir is None:
        return None
    import soundfile as sf

    n_words, seconds = 0, 0.0
    for m in mems:
        if m.source == "voice" and m.audio_path and (Path(audio_dir) / m.audio_path).exists():
            seconds += sf.info(str(Path(audio_dir) / m.audio_path)).duration
            n_words += len(words(m.text))
    return round(60 * n_words / seconds) if seconds > 1 else None
