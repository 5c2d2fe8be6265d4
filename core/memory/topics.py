"""What Persona can answer well: the person's memories grouped into topics.

The memories' stored sentence vectors are clustered with k-means (cosine, k-means++ start
from a fixed seed, so the same memories give the same topics), k chosen by the silhouette
score between 2 and ``TopicOptions.max_topics``. Each topic is named by its distinctive
frequent words: a word's count in the topic times how rare it is across topics (c-TF-IDF),
stop words and one-off words left out. How much Persona knows of a topic is first how many
memories it holds; ``core/evaluate/topic_scores.py`` adds held-out perplexity and QA accuracy.
Pure numpy, no model, and bounded: k-means runs on at most 4,000 memories (a fixed sample;
every memory then joins the nearest topic) and the silhouette on 1,500, so the app runs it on
a worker; timings in benchmarks/RESULTS.md. When no k is clearly better
than another (a short diary of unrelated days), the finer grouping is kept and the report
says the topics are loose.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from persona.core.memory.clustering import CLEAR, fit
from persona.core.persona.question import FUNCTION

if TYPE_CHECKING:  # schema imports pyarrow; the clustering needs numpy only
    from persona.core.memory.schema import Memory

# Words that name no subject, on top of question.FUNCTION (pronouns, auxiliaries, ...).
STOP = FUNCTION | frozenset({
    "the", "and", "was", "were", "had", "has", "have", "been", "being", "for", "with", "she",
    "her", "him", "his", "they", "them", "their", "our", "ours", "you", "your", "we", "me",
    "myself", "i'm", "i've", "i'd", "it's", "that's", "don't", "didn't", "can't", "could",
    "would", "should", "one", "two", "three", "got", "get", "went", "did", "made", "make",
    "lot", "bit", "day", "days", "week", "time", "today", "tonight", "morning", "evening",
    "feel", "felt", "feeling", "want", "wanted", "like", "liked", "love", "loved", "go",
    "going", "come", "came", "still", "again", "much", "many", "well", "good", "new", "old",
    "long", "little", "first", "last", "next", "finally", "almost", "everything", "nothing",
    "something", "thing", "things", "way", "yes", "no", "not", "what", "when", "where",
    "asked", "said", "keep", "kept", "let", "put", "puts", "take", "took", "back", "than",
    "then", "there", "here", "very", "really", "quite", "into", "onto", "about", "over",
    # units of time and diary words: every subject has them
    "hour", "hours", "minute", "minutes", "weeks", "month", "months", "year", "years",
    "times", "second", "down", "write", "wrote", "written", "notebook", "since", "ago"})
_TOKEN = re.compile(r"[^\W\d_][\w'\u2019-]*[^\W_]|[^\W\d_]")


@dataclass
class TopicOptions:
    max_topics: int = 8
    min_memories: int = 4  # fewer memories than this: one topic, nothing to cluster
    seed: int = 0
    silhouette_sample: int = 1500  # the score is O(n^2): judged on a sample this large
    fit_sample: int = 4000  # more memories: topics found on a sample, then every one assigned
    name_words: int = 3
    examples: int = 2  # memories shown as examples of a topic (closest to its centre)


@dataclass
class Topic:
    """One subject of the person's memories."""

    name: str  # its distinctive words, "cello, lessons, teacher"
    words: list[str]
    memory_ids: list[str]
    examples: list[str]
    first: datetime | None = None
    last: datetime | None = None
    perplexity: float | None = None  # held-out, under the persona (topic_scores.py)
    heldout_records: int = 0
    qa_accuracy: float | None = None  # questions from its memories answered right
    qa_questions: int = 0

    @property
    def size(self) -> int:
        return len(self.memory_ids)

    def level(self, total: int) -> str:
        """"a lot", "some" or "little": by its share of the memories and their number."""
        if self.size >= 10 and self.size >= 0.15 * total or self.size >= 50:
            return "a lot"
        return "some" if self.size >= 3 else "little"

    def sentence(self, total: int) -> str:
        """What Persona knows of it, plainly: "I know a lot about cello, lessons (12
        memories; answered 8 of 10 test questions right)"."""
        n = f"{self.size} memor{'y' if self.size == 1 else 'ies'}"
        more = []
        if self.qa_accuracy is not None:
            more.append(f"answered {round(self.qa_accuracy * self.qa_questions)} of "
                        f"{self.qa_questions} test questions right")
        if self.perplexity is not None:
            more.append(f"held-out perplexity {self.perplexity:.1f}")
        tail = "; ".join([n, *more])
        return f"I know {self.level(total)} about {self.name} ({tail})."

    def to_dict(self, total: int) -> dict:
        return {"name": self.name, "words": self.words, "memories": self.size,
                "level": self.level(total), "sentence": self.sentence(total),
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "perplexity": self.perplexity, "heldout_records": self.heldout_records,
                "qa_accuracy": self.qa_accuracy, "qa_questions": self.qa_questions,
                "examples": self.examples, "memory_ids": self.memory_ids}


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text`` that may name a subject (no stop words, no numbers)."""
    out = []
    for tok in _TOKEN.findall(text.replace("\u2019", "'").lower()):
        tok = tok.removesuffix("'s").strip("'")
        if len(tok) > 2 and tok not in STOP:
            out.append(tok)
    return out


def topic_words(groups: Sequence[Sequence[str]], n: int = 3) -> list[list[str]]:
    """The ``n`` most distinctive words of each group of texts: count in the group times
    log(1 + groups / groups using it); a word must occur twice in the group (or in a group
    of one text, once)."""
    counts = [Counter(w for t in g for w in tokens(t)) for g in groups]
    used = Counter(w for c in counts for w in c)
    out = []
    for g, c in zip(groups, counts, strict=True):
        least = 1 if len(g) < 3 else 2
        score = {w: k * math.log(1 + len(groups) / used[w]) for w, k in c.items() if k >= least}
        if not score:
            score = {w: k * math.log(1 + len(groups) / used[w]) for w, k in c.items()}
        out.append(sorted(score, key=lambda w: (-score[w], w))[:n])
    return out


def find_topics(memories: Sequence[Memory], vectors: np.ndarray,
                options: TopicOptions | None = None) -> list[Topic]:
    """The topics of ``memories`` (their unit ``vectors``, row for row), largest first."""
    return topic_report(memories, vectors, options).topics


def topic_report(memories: Sequence[Memory], vectors: np.ndarray,
                 options: TopicOptions | None = None) -> TopicReport:
    """``find_topics`` with the count and how clearly the memories fall into topics."""
    opt = options or TopicOptions()
    if len(memories) != len(vectors):
        raise ValueError(f"{len(memories)} memories but {len(vectors)} vectors")
    if not len(memories):
        return TopicReport()
    x = np.asarray(vectors, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    labels, clarity = fit(x, opt)
    groups = [np.flatnonzero(labels == j) for j in np.unique(labels)]
    names = topic_words([[memories[i].text for i in g] for g in groups], opt.name_words)
    topics = []
    for g, words_ in zip(groups, names, strict=True):
        centre = x[g].mean(0)
        near = g[np.argsort(-(x[g] @ centre), kind="stable")][:opt.examples]
        stamps = [memories[i].ts for i in g]
        # No distinctive word (a memory of stop words only): its opening words name it.
        name = ", ".join(words_) or f'"{_short(memories[near[0]].text, 32)}"'
        topics.append(Topic(name=name, words=words_,
                            memory_ids=[memories[i].id for i in g],
                            examples=[_short(memories[i].text) for i in near],
                            first=min(stamps), last=max(stamps)))
    topics.sort(key=lambda t: (-t.size, t.name))
    return TopicReport(topics, len(memories), clarity)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass
class TopicReport:
    topics: list[Topic] = field(default_factory=list)
    total: int = 0
    clarity: float | None = None  # the silhouette of the chosen grouping (-1..1)

    @property
    def loose(self) -> bool:
        """The memories do not fall into clear topics (yet): the groups are loose."""
        return self.clarity is not None and self.clarity < CLEAR

    def summary(self) -> str:
        """One plain line about the grouping as a whole."""
        if not self.total:
            return "No memories yet: there is nothing I can answer about you."
        n = len(self.topics)
        line = f"{self.total} memories in {n} topic{'s' if n != 1 else ''}"
        if self.loose:
            line += (": they do not fall into clear topics yet (each is about something "
                     "else), so these groups are loose")
        return line + "."

    def to_dict(self) -> dict:
        return {"memories": self.total, "clarity": self.clarity, "loose": self.loose,
                "summary": self.summary(),
                "topics": [t.to_dict(self.total) for t in self.topics]}


def store_topics(store, options: TopicOptions | None = None) -> TopicReport:
    """The topics of the person's own memories in ``store`` (the assistant's replies are not
    the person's subjects), from the vectors stored with them."""
    memories, vectors = person_vectors(store)
    return topic_report(memories, vectors, options)


def person_vectors(store) -> tuple[list[Memory], np.ndarray]:
    """The person's memories in ``store``, oldest first, and their stored vectors."""
    import pyarrow.compute as pc

    from persona.core.memory import rows

    tbl = store.table
    if tbl is None:
        return [], np.zeros((0, 0), dtype=np.float32)
    found = store._read("read memories", lambda: (
        tbl.search().where(rows.where(speaker="person"))
        .select([*rows.COLUMNS, "vector"]).limit(None).to_arrow()))
    found = found.take(pc.sort_indices(found, sort_keys=[("ts", "ascending"),
                                                        ("id", "ascending")]))
    if not found.num_rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    stored = found["vector"].combine_chunks()
    dim = stored.type.list_size
    return (rows.to_memories(found),
            stored.values.to_numpy(zero_copy_only=False).reshape(-1, dim))
