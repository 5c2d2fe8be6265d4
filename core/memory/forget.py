"""Forgetting that forgets: a memory, and every copy of its words that Persona wrote.

One function for the CLI (`persona forget`) and the app (Memories → Forget). It removes:

- the rows, from every file of the store (``MemoryStore.forget`` → ``persona.core.memory.purge``:
  fragments rewritten, indexes rebuilt, old versions deleted);
- their recordings (``audio/<id>.wav``);
- the conversation around a chat turn: forgetting one of the person's chat turns also
  forgets the assistant's replies to it (the turns after it, up to the person's next one),
  because a reply restates the question; and any assistant turn that quotes a forgotten
  text (one of its sentences of 20+ characters, verbatim) — the assistant read it in
  retrieval and repeated it;
- every log line under ``logs/`` that holds the text or one of those sentences;
- what profile induction drew from it: the induced fields are induced again without it, and
  the sidecar's record of a field the person edited is induced again too (it may hold a
  phrase of the text). A field the person wrote is never changed (the report names it if it
  quotes the text).
- the language model's saved KV state of the persona prefix (``core/llm/prefix_state.py``),
  computed from the profile as it was;
- the person's choices (thumbs, pairs; ``core/prefs/store.py``) about a forgotten reply or
  quoting a forgotten text; the reward model is retrained without them on its next use;
- the last fidelity report (``eval/fidelity.json``: questions and answers generated from the
  memories, the person's favourite phrases), made from the memories as they were: `persona
  eval` makes a new one.

The ids go to ``privacy/forgotten.txt`` first (ids only), so that no later training run
samples them, even if the memory comes back from an old copy of the store.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from persona.core.atomic import atomic_write_bytes
from persona.core.memory import rows
from persona.core.memory.schema import Memory
from persona.core.paths import Home
from persona.privacy.forgotten import add_forgotten

log = logging.getLogger(__name__)

MIN_QUOTE_CHARS = 20  # a shorter sentence ("I see.") is too common to call a quote


@dataclass
class ForgetReport:
    """What one forget removed (ids only, so the report itself can be logged)."""

    forgotten: list[Memory] = field(default_factory=list)  # requested ones first
    requested: list[str] = field(default_factory=list)
    linked_replies: list[str] = field(default_factory=list)  # assistant turns forgotten too
    recordings_deleted: int = 0
    files_removed: int = 0  # store files of old versions and rewritten fragments
    indexes_rebuilt: list[str] = field(default_factory=list)
    log_lines_removed: int = 0
    profile_reinduced: list[str] = field(default_factory=list)  # induced fields that changed
    profile_yours_quoting: list[str] = field(default_factory=list)  # person's fields, kept
    choices_removed: int = 0  # thumbs and pairs about them (core/prefs/store.py)
    fidelity_report_removed: bool = False  # eval/fidelity.json (core/evaluate/fidelity.py)

    def store_files_removed_text(self) -> str:
        """One line: what left the disk besides the rows."""
        return (f"{self.files_removed} store files (old versions, rewritten fragments), "
                f"indexes rebuilt ({', '.join(self.indexes_rebuilt) or 'none'}), "
                f"{self.recordings_deleted} recordings, {self.log_lines_removed} log lines, "
                f"{self.choices_removed} reply choices"
                f"{', the last fidelity report' if self.fidelity_report_removed else ''}; "
                f"profile fields induced again: {', '.join(self.profile_reinduced) or 'none'}")

    def to_dict(self) -> dict:
        return {"forgotten": [m.id for m in self.forgotten], "requested": self.requested,
                "linked_replies": self.linked_replies,
                "recordings_deleted": self.recordings_deleted,
                "store_files_removed": self.files_removed,
                "indexes_rebuilt": self.indexes_rebuilt,
                "log_lines_removed": self.log_lines_removed,
                "profile_fields_reinduced": self.profile_reinduced,
                "profile_fields_yours_quoting_it": self.profile_yours_quoting,
                "choices_removed": self.choices_removed,
                "fidelity_report_removed": self.fidelity_report_removed}


def needles(text: str) -> list[str]:
    """The strings whose presence anywhere counts as a trace of ``text``: the whole text and
    each of its sentences of at least ``MIN_QUOTE_CHARS`` characters, whitespace-folded."""
    from persona.core.persona.textstats import sentences

    whole = " ".join(text.split())
    parts = [" ".join(s.split()) for s in sentences(whole)]
    return list(dict.fromkeys([whole, *(s for s in parts if len(s) >= MIN_QUOTE_CHARS)]))


def linked_replies(store, memories: Sequence[Memory]) -> list[Memory]:
    """The assistant turns that answer or quote ``memories`` (see the module docstring)."""
    tbl = store.table
    if tbl is None:
        return []
    chosen = {m.id for m in memories}
    out: dict[str, Memory] = {}
    for cid in sorted({m.conversation_id for m in memories
                       if m.source == "chat" and m.speaker == "person" and m.conversation_id}):
        turns = rows.to_memories(tbl.search().where(f"conversation_id = {rows.sql_str(cid)}")
                                 .select(rows.COLUMNS).limit(None).to_arrow())
        turns.sort(key=lambda m: (m.ts, m.id))
        answering = False
        for t in turns:
            if t.speaker == "person":
                answering = t.id in chosen
            elif answering:
                out[t.id] = t
    quotes = [n.casefold() for m in memories for n in needles(m.text)]
    if quotes:
        said = tbl.search().where("speaker = 'assistant'").select(["id", "text"]).limit(None)
        said = said.to_arrow()
        for rid, text in zip(said["id"].to_pylist(), said["text"].to_pylist(), strict=True):
            folded = " ".join(text.split()).casefold()
            if rid not in chosen and any(q in folded for q in quotes):
                out.setdefault(rid, None)
    missing = [rid for rid, m in out.items() if m is None]
    if missing:
        for m in rows.to_memories(rows.find_in(tbl, "id", missing, rows.COLUMNS)):
            out[m.id] = m
    return [m for rid, m in out.items() if m is not None and rid not in chosen]


def forget_memories(home: Home, store, memory_ids: Sequence[str]) -> ForgetReport:
    """Forget ``memory_ids`` everywhere (see the module docstring). An unknown id raises
    ``StoreError`` before anything is changed."""
    ids = list(dict.fromkeys(memory_ids))
    report = ForgetReport(requested=ids)
    if not ids:
        return report
    tbl = store.table
    found = [] if tbl is None else rows.to_memories(rows.find_in(tbl, "id", ids, rows.COLUMNS))
    missing = sorted(set(ids) - {m.id for m in found})
    if missing:
        store.forget(ids)  # raises the store's own "no memory has the id" error, unchanged
    replies = linked_replies(store, found)
    all_ids = ids + [m.id for m in replies]
    add_forgotten(home.privacy_dir, all_ids)  # before the delete: see privacy/forgotten.py
    report.forgotten = store.forget(all_ids)
    report.linked_replies = [m.id for m in replies]
    purge = getattr(store, "last_purge", None)
    if purge is not None:
        report.files_removed, report.indexes_rebuilt = purge.files_removed, purge.indexes_rebuilt
    for m in report.forgotten:
        if m.audio_path:
            clip = home.audio_dir / m.audio_path
            if clip.exists():
                clip.unlink()
                report.recordings_deleted += 1
    traces = [n for m in report.forgotten for n in needles(m.text)]
    report.log_lines_removed = scrub_logs(home.logs_dir, traces)
    _forget_in_profile(home, store, traces, report)
    from persona.core.prefs.store import forget_lines

    report.choices_removed = forget_lines(home.root, [m.id for m in report.forgotten], traces)
    from persona.core.evaluate.fidelity import drop_report

    report.fidelity_report_removed = drop_report(home)
    # The language model's saved persona prefix was read from the profile as it was.
    from persona.core.llm.prefix_state import clear

    clear(home.root)
    return report


def scrub_logs(logs_dir: Path, traces: Sequence[str]) -> int:
    """Remove every line that holds one of ``traces`` from the files under ``logs_dir``
    (rewritten atomically, still 0600); returns how many lines went."""
    if not traces or not logs_dir.is_dir():
        return 0
    keys = [t.encode("utf-8") for t in traces]
    removed = 0
    for path in sorted(p for p in logs_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if not any(k in data for k in keys):
            continue
        lines = data.splitlines(keepends=True)
        kept = [line for line in lines if not any(k in line for k in keys)]
        removed += len(lines) - len(kept)
        atomic_write_bytes(path, b"".join(kept))
        os.chmod(path, 0o600)
    return removed


def _forget_in_profile(home: Home, store, traces: Sequence[str], report: ForgetReport) -> None:
    """Induce the induced fields again without the forgotten memories; the sidecar's record
    of a person-edited field is induced again too (the person's value stays)."""
    from persona.core.persona.induce import InductionOptions, induce_profile_file
    from persona.core.persona.profile import flatten, induced_path, load_induced, save_induced

    path = home.profile_file
    if not induced_path(path).exists():
        return  # induction never ran: every field is the person's own
    profile, result = induce_profile_file(store.all_memories(), path,
                                          InductionOptions(audio_dir=home.audio_dir))
    report.profile_reinduced = [c.field for c in result.changed]
    sidecar = load_induced(path)
    for change in result.kept:
        # The person's value stays. What the sidecar remembers of induction for that field
        # (only used to tell their edits apart) becomes today's induced value: the old one
        # was drawn from every memory, the forgotten one too (a phrase of it, say). The field
        # stays the person's, since their value differs from it.
        sidecar[change.field] = change.new
    if result.kept:
        save_induced(path, sidecar)
    # Any field still quoting it is one induction does not own: the person's own words.
    owned = {c.field for c in result.changed} | set(result.unchanged)
    report.profile_yours_quoting = [key for key, value in flatten(profile).items()
                                    if key not in owned and _quotes(value, traces)]


def _quotes(value, traces: Sequence[str]) -> bool:
    text = json.dumps(value, ensure_ascii=False)
    return any(t in text for t in traces)
