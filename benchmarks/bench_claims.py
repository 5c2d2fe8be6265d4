"""Unsupported-claim flags: precision and recall on a hand-labelled set of reply sentences.

Two sets, each sentence labelled supported / unsupported / none by hand (see each file's
"about"): tests/data/claims_labelled.json, replies written for the check (subtle inventions
included), and tests/data/claims_live.json, real replies of the default model. Each
reply goes through the pipeline's own check (Pipeline.unsupported_claims) with the memories
the pipeline retrieves for its question in the prompt, and a fresh retrieval for a sentence
that fails, as `persona ask` does. A labelled sentence counts as flagged when a flagged
sentence is it (or holds it). Positives are the unsupported sentences; precision is the
share of flags that are right, recall the share of unsupported sentences flagged. No
language model runs: the replies are given.

    python -m benchmarks.bench_claims            # the table
    python -m benchmarks.bench_claims --verbose  # and every wrong call
    python -m benchmarks.bench_claims --live 30  # real replies of the default model, flagged
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.table import format_grid
from persona.core.cli.demo import load_sample_persona
from persona.core.pipeline import Pipeline, Reply

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
# Replies written for the check (dev/test splits), and real replies of the default model.
SETS = {"written": DATA / "claims_labelled.json", "live": DATA / "claims_live.json"}


# (evidence, how many new plain words a supported sentence may add) per row of the table.
MODES = {"shipped": "prompt's memories + fresh retrieval (as shipped)",
         "prompt": "prompt's memories only",
         "strict": "as shipped, but no new plain word allowed"}


def flags(pipe: Pipeline, question: str, text: str, mode: str = "shipped") -> list[str]:
    """The sentences of ``text`` the pipeline's check flags, as it checks a reply to
    ``question`` (see MODES)."""
    hits = pipe.search(question)
    messages = pipe.prompt_messages(question, hits, [])
    reply = Reply(question, text, hits, None, messages=messages)
    if mode == "shipped":
        return [c.sentence for c in pipe.unsupported_claims(reply)]
    from persona.core.persona.claims import ClaimOptions, reply_claims
    from persona.core.persona.prompt import memory_line

    search = None if mode == "prompt" else (
        lambda s: [f"{n}. {memory_line(h, 10_000)}" for n, h in enumerate(pipe.search(s, k=3), 1)])
    options = ClaimOptions(new_words_per=10_000) if mode == "strict" else None
    return [c.sentence for c in reply_claims(text, [messages], pipe.word_vectors,
                                             person=pipe.profile().identity.name or "",
                                             search=search, options=options)]


def score(calls: list[tuple[str, bool]]) -> tuple[float, float, int, int, int]:
    """(precision, recall, true flags, false flags, missed) of (label, flagged) calls."""
    tp = sum(1 for label, f in calls if f and label == "unsupported")
    fp = sum(1 for label, f in calls if f and label != "unsupported")
    fn = sum(1 for label, f in calls if not f and label == "unsupported")
    return (tp / (tp + fp) if tp + fp else float("nan"),
            tp / (tp + fn) if tp + fn else float("nan"), tp, fp, fn)


def run(verbose: bool = False) -> str:
    with tempfile.TemporaryDirectory(prefix="persona-claims-") as root:
        pipe = Pipeline(Path(root) / "home")
        load_sample_persona(pipe)
        pipe.word_vectors(["warm"])  # the embedder loads outside the timing
        # (set, split, label, flagged, sentence) per mode
        calls: dict[str, list[tuple[str, str, str, bool, str]]] = {m: [] for m in MODES}
        start, replies = time.perf_counter(), 0
        for name, path in SETS.items():
            for item in json.loads(path.read_text(encoding="utf-8"))["replies"]:
                replies += 1
                text = " ".join(s["s"] for s in item["sentences"])
                for mode in calls:
                    got = flags(pipe, item["q"], text, mode)
                    for s in item["sentences"]:
                        hit = any(s["s"] in g or g in s["s"] for g in got)
                        calls[mode].append((name, item["split"], s["label"], hit, s["s"]))
        seconds = (time.perf_counter() - start) / (len(MODES) * replies)
    body = []
    for mode, label in MODES.items():
        for name, split in (("written", "dev"), ("written", "test"), ("written", "all"),
                            ("live", "live")):
            sel = [(lab, f) for n, sp, lab, f, _ in calls[mode]
                   if n == name and split in ("all", sp)]
            p, r, tp, fp, fn = score(sel)
            body.append((label, f"{name} / {split}", str(len(sel)), f"{p:.0%}", f"{r:.0%}",
                         f"{tp} / {fp} / {fn}"))
    never = [s for *_, lab, f, s in calls["shipped"] if lab == "none" and f]
    out = format_grid(("evidence", "set / split", "sentences", "precision", "recall",
                       "right flags / wrong flags / missed"), body)
    out += (f"\n\n'none' sentences (refusals, quotes, questions) flagged: {len(never)}; "
            f"{seconds * 1000:.0f} ms a reply (retrieval + check, after the embedder loaded)")
    if verbose:
        wrong = [(n, sp, lab, s) for n, sp, lab, f, s in calls["shipped"]
                 if f != (lab == "unsupported")]
        out += "\n\nWrong calls (set, split, label, sentence):\n" + "\n".join(
            f"  {n:7} {sp:4} {lab:11} {s}" for n, sp, lab, s in wrong)
    return out


def live(n: int) -> str:
    """The first ``n`` grounded questions (benchmarks/data) answered by the default model
    through Pipeline.reply, each reply with the sentences it flags: for reading by hand
    (real replies have no labels)."""
    from benchmarks.bench_grounded import load_questions
    from benchmarks.common import sample_pipeline
    from persona.core.persona.claims import statements

    pipe = sample_pipeline()
    out, flagged, sentences = [], 0, 0
    for item in load_questions()[:n]:
        reply = pipe.reply(item["q"], store_turns=False)
        sentences += len(statements(reply.text))
        flagged += len(reply.unsupported)
        out.append(f"Q ({item['kind']}): {item['q']}\nA: {reply.text}")
        out += [f"   FLAG: {c.sentence}  (missing: {', '.join(c.missing)})"
                for c in reply.unsupported]
    return "\n".join(out) + f"\n\n{flagged} of {sentences} sentences flagged in {n} replies"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", action="store_true", help="list every wrong call")
    ap.add_argument("--live", type=int, default=0, metavar="N",
                    help="instead: N grounded questions answered by the default model, each "
                         "reply with its flags, for reading by hand")
    args = ap.parse_args()
    print(live(args.live) if args.live else run(verbose=args.verbose))


if __name__ == "__main__":
    main()
