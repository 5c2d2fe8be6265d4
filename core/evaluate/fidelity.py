"""The fidelity report: how much the persona writes like the person, and what it knows.

Two measures beside held-out perplexity (`persona eval`):

- style: a few held-out records of the person each give a start (their first words); the
  persona (base model + the person's adapter) and the base model alone go on from it as plain
  text, the way the adapter was trained, and the stylometric profile of what each *generated*
  is compared with the profile of the person's held-out text (``style_similarity_persona``,
  ``style_similarity_base``); the persona's "speak as me" answers to the same starts (the chat
  prompt of core/persona/as_me.py) are scored too (``style_similarity_as_me``);
- memory: questions made from facts in the person's memories (memory_qa.py) are answered by
  the persona as a normal question is (retrieval, prompt, gate); ``memory_qa_accuracy`` is
  the share answered right.

Few prompts and bounded tokens keep it to a minute or two on a small machine. The report is
kept in the home (eval/fidelity.json, 0600) for the app.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from persona.core.atomic import atomic_write_text
from persona.core.paths import Home
from persona.core.settings import Settings

Progress = Callable[[int, int, str], None]  # done, total, what is happening
REPORT_FILE = Path("eval") / "fidelity.json"
# A sample the model declined to write is no sample of a style: Qwen2.5-Coder-0.5B answers
# about half the prompts from Shakespeare's speeches so (benchmarks/RESULTS.md, issue 10).
REFUSAL = re.compile(r"\b(?:I'?m sorry|I am sorry|I can(?:no|')t (?:assist|help)|as an AI)\b",
                     re.IGNORECASE)


@dataclass
class FidelityOptions:
    samples: int = 3  # held-out records to prompt from (per model)
    questions: int = 6  # memory questions
    max_new_tokens: int = 48  # per generated sample
    prompt_words: int = 8  # the record's first words given as the start


@dataclass
class FidelityReport:
    style_similarity_persona: float | None
    style_similarity_base: float | None
    memory_qa_accuracy: float | None
    adapter: str | None  # the persona's adapter version (None: no adapter, persona = base)
    style_similarity_as_me: float | None = None
    refused: dict = field(default_factory=dict)  # persona/base/as_me: declined, left out
    samples: list[dict] = field(default_factory=list)  # start, persona, base, as_me
    questions: list[dict] = field(default_factory=list)  # question, answer, reply, correct
    styles: dict = field(default_factory=dict)  # person / persona / base: StyleProfile dicts
    created: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def start_of(text: str, n: int) -> str:
    """The first ``n`` words of ``text`` (the prompt a sample goes on from)."""
    return " ".join(text.split()[:n])


def style_prompt(start: str) -> str:
    return f"Go on with this, in my words: \"{start} …\""


def compare_styles(person_text: str, persona_texts: list[str], base_texts: list[str],
                   as_me_texts: list[str] | None = None) -> tuple[float | None, ...]:
    """(persona vs person, base vs person, the profiles[, as-me vs person]) — over generated
    text only, refusals left out; None where a side generated no words."""
    from persona.core.errors import TextError
    from persona.core.evaluate.stylometry import profile, similarity

    person = profile(person_text)
    styles, sims = {"person": person.to_dict()}, {}
    sides = [("persona", persona_texts), ("base", base_texts)]
    if as_me_texts is not None:
        sides.append(("as_me", as_me_texts))
    for name, texts in sides:
        try:
            p = profile("\n".join(t for t in texts if not REFUSAL.search(t)))
        except TextError:
            sims[name] = None
            continue
        styles[name] = p.to_dict()
        sims[name] = round(similarity(p, person), 4)
    out = (sims["persona"], sims["base"], styles)
    return out if as_me_texts is None else (*out, sims["as_me"])


def write(llm, start: str, gen) -> str:
    """What ``llm`` writes after ``start`` as plain text (a backend without plain completion
    answers the "as me" chat prompt instead)."""
    if hasattr(llm, "complete"):
        return llm.complete(start, gen).strip()
    return llm.chat(as_me_messages_for(start), gen).strip()


def as_me_messages_for(start: str, profile=None, style=None) -> list[dict[str, str]]:
    from persona.core.persona.as_me import as_me_messages
    from persona.core.persona.profile import Profile

    return as_me_messages(profile or Profile(), [], style_prompt(start), style)


def run_fidelity(home: Home, settings: Settings, options: FidelityOptions | None = None, *,
                 progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None, pipeline=None,
                 heldout: list | None = None) -> FidelityReport | None:
    """The fidelity report of the home's persona (None when stopped by ``should_stop``).
    ``heldout``: the person's reference text as TrainingExamples (default: the held-out
    slice of their memories, as `persona eval`).

    Loads the language model twice (with and without the adapter) unless the persona has no
    adapter, in which case the base model's numbers are the persona's.
    """
    from persona.core.conversation import Conversation
    from persona.core.evaluate import memory_qa
    from persona.core.evaluate.membership import sample
    from persona.core.llm.backend import GenerationOptions
    from persona.core.llm.factory import load_backend
    from persona.core.persona.as_me import style_of
    from persona.core.pipeline import Pipeline
    from persona.core.train.adapter_store import AdapterStore
    from persona.core.train.runner import load_dataset

    opt = options or FidelityOptions()
    stop = should_stop or (lambda: False)
    t0 = time.perf_counter()
    pipe = pipeline or Pipeline(home, settings)
    dataset = load_dataset(home, settings)
    heldout = [ex for ex in (dataset.heldout if heldout is None else heldout)
               if ex.target.strip()]
    chosen = sample(heldout, opt.samples)
    pairs = memory_qa.generate(pipe.store.all_memories(), limit=opt.questions)
    report = FidelityReport(None, None, None, AdapterStore(home).current_version())
    # Without an adapter the persona is the base model: its samples serve for both.
    total = (3 if report.adapter else 2) * len(chosen) + len(pairs)
    done = 0

    def step(text: str) -> bool:
        nonlocal done
        if progress is not None:
            progress(done, total, text)
        done += 1
        return stop()

    if chosen:
        # The style hint comes from the trained records, never from the held-out ones.
        style = style_of([ex.target for ex in dataset.train[:200]])
        profile = pipe.profile()
        gen = GenerationOptions(max_new_tokens=opt.max_new_tokens,
                                temperature=settings.temperature)
        starts = [start_of(ex.target, opt.prompt_words) for ex in chosen]
        persona_out, as_me_out = [], []
        for s in starts:
            if step("The persona writes on from your words …"):
                return None
            persona_out.append(write(pipe.llm, s, gen))
        for s in starts:
            if step("The persona answers as you …"):
                return None
            as_me_out.append(pipe.llm.chat(as_me_messages_for(s, profile, style), gen).strip())
        base_out = [] if report.adapter else list(persona_out)
        base = load_backend(settings, home, adapter=False) if report.adapter else None
        for s in starts if base is not None else []:
            if step("The base model writes on from your words …"):
                return None
            base_out.append(write(base, s, gen))
        del base  # its memory goes before the questions load anything more
        report.samples = [{"start": s, "persona": a, "base": b, "as_me": c} for s, a, b, c
                          in zip(starts, persona_out, base_out, as_me_out, strict=True)]
        report.refused = {name: sum(bool(REFUSAL.search(t)) for t in texts) for name, texts
                          in (("persona", persona_out), ("base", base_out),
                              ("as_me", as_me_out))}
        (report.style_similarity_persona, report.style_similarity_base, report.styles,
         report.style_similarity_as_me) = compare_styles(
            "\n".join(ex.target for ex in heldout), persona_out, base_out, as_me_out)
    else:
        report.notes.append("No held-out memories yet: style was not compared.")
    replies = []
    for pair in pairs:
        if step(f"Question: {pair.question}"):
            return None
        reply = pipe.reply(pair.question, store_turns=False, conversation=Conversation.new())
        replies.append(reply.text)
        report.questions.append({"question": pair.question, "answer": pair.answer,
                                 "kind": pair.kind, "reply": reply.text,
                                 "correct": memory_qa.is_correct(pair, reply.text)})
    report.memory_qa_accuracy = memory_qa.accuracy(pairs, replies)
    if not pairs:
        report.notes.append("No memory held a fact to ask about: no questions were asked.")
    if not report.adapter:
        report.notes.append("No trained adapter yet: the persona is the base model.")
    if progress is not None:
        progress(total, total, "Done")
    report.created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    report.seconds = round(time.perf_counter() - t0, 1)
    return report


def save_report(home: Home, report: FidelityReport) -> Path:
    """Keep ``report`` as the home's last fidelity report (0600 in a 0700 folder)."""
    path = home.root / REPORT_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(report.to_dict(), indent=1) + "\n")
    return path


def drop_report(home: Home) -> bool:
    """Delete the last fidelity report (forgetting: it holds questions, answers and favourite
    phrases drawn from the memories as they were). True when there was one."""
    try:
        (home.root / REPORT_FILE).unlink()
        return True
    except FileNotFoundError:
        return False


def load_report(home: Home) -> dict | None:
    """The home's last fidelity report as a dict, or None."""
    try:
        return json.loads((home.root / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
