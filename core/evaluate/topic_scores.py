"""How well the persona knows each topic: held-out perplexity and QA accuracy per topic.

Both are optional in `persona topics` (``--perplexity``, ``--qa N``) because they run the
language model; both are bounded. Perplexity is that of the persona (base model plus the
current adapter) on the topic's records in the fixed held-out slice (core/train/heldout.py),
which training never saw: at most ``max_records`` records a topic; a topic with none held
out has no perplexity. QA accuracy asks up to N questions a topic, made from the topic's own
memories by core/evaluate/memory_qa.py, through the same reply path as `persona ask`, and
judges the replies with it; these questions are in-sample (the memories are retrieved), so
they measure recall and grounding, not generalisation.
"""

from __future__ import annotations

from collections.abc import Callable

from persona.core.evaluate.perplexity import perplexity
from persona.core.memory.topics import TopicReport

MAX_RECORDS = 40  # held-out records scored per topic: bounds the time on a large home
MAX_SEQ_LEN = 256  # as `persona eval` reads held-out records
Progress = Callable[[str], None]


def topic_perplexity(pipe, report: TopicReport, *, backend: str | None = None,
                     max_records: int = MAX_RECORDS, log: Progress | None = None) -> None:
    """Fill each topic's ``perplexity`` and ``heldout_records`` (the persona's, on the
    topic's held-out records)."""
    from persona.core.evaluate.record_scores import pooled, record_scores
    from persona.core.llm.adapters import find_adapter
    from persona.core.llm.models import ensure_model_folder
    from persona.core.train.adapter_store import AdapterStore
    from persona.core.train.runner import load_dataset, trainer, training_backend

    heldout = {ex.record_id: ex for ex in load_dataset(pipe.home, pipe.settings).heldout}
    backend = backend or training_backend(pipe.settings)
    _, fmt = trainer(backend)
    adapter = find_adapter(AdapterStore(pipe.home).current_dir(), fmt)
    folder = ensure_model_folder(pipe.settings, pipe.home)
    groups = []
    for topic in report.topics:
        groups.append([heldout[i] for i in topic.memory_ids if i in heldout][:max_records])
        topic.heldout_records = len(groups[-1])
    if not any(groups):
        return
    if log is not None:
        log(f"perplexity on {sum(map(len, groups))} held-out records in "
            f"{sum(1 for g in groups if g)} topics")
    scores = record_scores(backend, folder, adapter, groups, MAX_SEQ_LEN)  # one model load
    for topic, group in zip(report.topics, scores, strict=True):
        nll, tokens = pooled(group)
        topic.perplexity = perplexity(nll) if tokens else None


def topic_qa(pipe, report: TopicReport, *, per_topic: int = 3, log: Progress | None = None,
             should_stop: Callable[[], bool] | None = None) -> bool:
    """Fill each topic's ``qa_accuracy`` and ``qa_questions``: up to ``per_topic`` questions
    made from its memories (memory_qa.generate), answered by ``pipe.reply`` without storing
    the turns, judged by memory_qa.is_correct. False when memory_qa is not available;
    ``should_stop`` is asked before each question (a topic cut short keeps no score)."""
    try:
        from persona.core.evaluate import memory_qa
    except ImportError:
        return False
    by_id = {m.id: m for m in pipe.store.all_memories()}
    for topic in report.topics:
        pairs = memory_qa.generate([by_id[i] for i in topic.memory_ids if i in by_id],
                                   limit=per_topic)
        if not pairs:
            continue
        right = 0
        for pair in pairs:
            if should_stop is not None and should_stop():
                return True
            if log is not None:
                log(f"{topic.name}: {pair.question}")
            reply = pipe.reply(pair.question, store_turns=False)
            right += bool(memory_qa.is_correct(pair, reply.text))
        topic.qa_questions, topic.qa_accuracy = len(pairs), right / len(pairs)
    return True
