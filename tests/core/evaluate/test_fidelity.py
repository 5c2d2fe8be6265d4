"""The fidelity report over a real home (real LanceDB, embedder, held-out slice, memory
questions): the language model is scripted so the test can say what "the persona" wrote —
a formal text nothing like the diary — and check that the style score is of that generated
text, not of the reference, and that the questions are the memories' own. The real model's
numbers are in benchmarks/bench_fidelity.py; the app runs it for real in
tests/desktop/test_fidelity.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from persona.core.cli import build_parser
from persona.core.cli.demo import load_sample_persona
from persona.core.evaluate.fidelity import (
    REPORT_FILE,
    FidelityOptions,
    compare_styles,
    load_report,
    run_fidelity,
    save_report,
)
from persona.core.evaluate.stylometry import profile, similarity
from persona.core.pipeline import Pipeline
from tests.core.scripted_llm import ScriptedLLM
from tests.sample_home import ensure_heldout

FORMAL = (Path(__file__).resolve().parents[2] / "data" / "style" / "formal.txt").read_text()


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    p = Pipeline(tmp_path_factory.mktemp("fidelity") / "home")
    load_sample_persona(p)
    ensure_heldout(p)
    return p


def test_the_style_score_is_of_what_the_persona_generated(pipe):
    pipe.__dict__["llm"] = llm = ScriptedLLM(FORMAL)
    seen: list[tuple[int, int]] = []
    report = run_fidelity(pipe.home, pipe.settings, FidelityOptions(samples=2, questions=3),
                          pipeline=pipe, progress=lambda d, t, _s: seen.append((d, t)))
    heldout = [s for s in report.samples]
    assert len(heldout) >= 1 and all(s["persona"] == FORMAL.strip() for s in heldout)
    # Each sample was prompted "as me" from a held-out record's first words.
    assert all("own voice" in m[0]["content"] for m in llm.prompts[:len(heldout)])
    person = report.styles["person"]
    formal_like = similarity(profile("\n".join([FORMAL.strip()] * len(heldout))),
                             profile(_heldout_text(pipe)))
    assert report.style_similarity_persona == pytest.approx(formal_like, abs=1e-3)
    assert report.style_similarity_persona < 0.3 < 1.0  # not the reference against itself
    assert report.style_similarity_as_me == report.style_similarity_persona  # same text
    assert report.adapter is None and report.style_similarity_base == \
        report.style_similarity_persona  # no adapter: the persona is the base model
    # The person's side is the whole held-out slice (which records fall there is random:
    # it can be one short note, so only "all of it" is a stable claim).
    assert person == profile(_heldout_text(pipe)).to_dict() and person["words"] > 0
    # The questions come from the memories and are answered as any question is: the
    # grounding gate replaces the scripted formal text by a quote of the memory, if one
    # holds the question's words, so some are answered right.
    assert len(report.questions) == 3
    assert report.memory_qa_accuracy == sum(q["correct"] for q in report.questions) / 3
    assert all(q["reply"] != FORMAL.strip() for q in report.questions)
    assert seen[-1][0] == seen[-1][1]

    path = save_report(pipe.home, report)
    assert path == pipe.home.root / REPORT_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_report(pipe.home)["memory_qa_accuracy"] == report.memory_qa_accuracy


def test_refusals_are_no_sample_of_a_style():
    person = "I walked to the harbour. The ferries came in! I love that light."
    sp, sb, styles = compare_styles(person, ["I'm sorry, but I can't assist with that.", person],
                                    ["I'm sorry, but I can't assist with that."])
    assert sp == 1.0 and styles["persona"]["words"] == 13  # the refusal left out
    assert sb is None and "base" not in styles  # nothing but a refusal: no style to score


def test_a_stopped_evaluation_returns_nothing(pipe):
    pipe.__dict__["llm"] = llm = ScriptedLLM("Fine.")
    assert run_fidelity(pipe.home, pipe.settings, pipeline=pipe, should_stop=lambda: True) is None
    assert llm.prompts == []


def test_the_commands_parse():
    ap = build_parser()
    args = ap.parse_args(["eval", "--samples", "1", "--questions", "0", "--json"])
    assert (args.samples, args.questions, args.perplexity_only) == (1, 0, False)
    assert ap.parse_args(["eval", "--perplexity-only"]).perplexity_only
    assert ap.parse_args(["ask", "Shall I go to Tomas's party?", "--as-me"]).as_me
    with pytest.raises(SystemExit):
        ap.parse_args(["eval", "--samples", "-1"])


def _heldout_text(pipe) -> str:
    from persona.core.train.runner import load_dataset

    return "\n".join(ex.target for ex in load_dataset(pipe.home, pipe.settings).heldout
                     if ex.target.strip())
