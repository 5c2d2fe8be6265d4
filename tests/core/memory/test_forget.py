"""Forgetting that forgets (issue 8): after `forget`, no file of the home holds the words.

LanceDB compresses text pages, so a raw byte search of its files can miss a row that is
still there; ``traces`` therefore also decodes every ``.lance`` file (data and index files)
with Lance's own file reader and searches what they hold. Before the forget the text is
found (the old code's delete leaves it in the data file), after it nowhere.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from lance.file import LanceFileReader

from persona.core.memory.schema import Memory, now_utc
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings
from persona.privacy.forgotten import read_forgotten

SECRET = "I keep the spare key under the blue zanzibarquokka flowerpot by the door."
NEEDLE = "zanzibarquokka"


def traces(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` whose bytes, or (for a Lance file) decoded contents, hold
    ``needle``."""
    raw = needle.encode("utf-8")
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if raw in path.read_bytes():
            hits.append(str(path.relative_to(root)))
        elif path.suffix == ".lance":
            table = LanceFileReader(str(path)).read_all().to_table()
            if needle in repr(table.to_pylist()):
                hits.append(f"{path.relative_to(root)} (decoded)")
    return hits


def index_dirs(pipe: Pipeline) -> set[str]:
    return {p.name for p in (pipe.home.memory_dir / "memories.lance" / "_indices").iterdir()}


@pytest.fixture
def pipe(tmp_path, embedder) -> Pipeline:
    p = Pipeline(tmp_path / "home", settings=Settings())
    p.__dict__["embedder"] = embedder  # one real embedder for every memory test
    return p


def fill(pipe: Pipeline) -> dict[str, Memory]:
    """Notes, one of them the secret; a chat turn about it with the assistant's reply; an
    assistant turn elsewhere that quotes it; a log line and an induced profile."""
    t0 = now_utc() - timedelta(days=2)
    notes = [Memory(text=f"Note {i}: I walked to the market and bought {i} apples today.",
                    ts=t0 + timedelta(minutes=i)) for i in range(200)]
    secret = Memory(text=SECRET, ts=t0 + timedelta(hours=5), audio_path="secret.wav")
    (pipe.home.audio_dir / "secret.wav").write_bytes(b"RIFF fake wav for the test")
    ask = Memory(text="Where is the zanzibarquokka flowerpot again?", source="chat",
                 conversation_id="c1", ts=t0 + timedelta(hours=6))
    reply = Memory(text="By the door, you said.", source="chat", speaker="assistant",
                   conversation_id="c1", ts=t0 + timedelta(hours=6, seconds=5))
    quote = Memory(text=f"You told me: {SECRET}", source="chat", speaker="assistant",
                   conversation_id="c2", ts=t0 + timedelta(hours=7))
    other_chat = Memory(text="What should I cook tonight?", source="chat",
                        conversation_id="c2", ts=t0 + timedelta(hours=6, minutes=59))
    pipe.store.add([*notes, secret, ask, reply, other_chat, quote])
    log_file = pipe.home.logs_dir / "app.log"
    log_file.write_text(f"INFO started\nINFO heard: {SECRET}\nINFO done\n")
    pipe.induce_profile()
    return {"secret": secret, "ask": ask, "reply": reply, "quote": quote,
            "other_chat": other_chat, "note": notes[3]}


def test_forget_leaves_no_trace_of_the_text_in_any_file_of_the_home(pipe):
    from persona.core.evaluate.fidelity import REPORT_FILE

    m = fill(pipe)
    # A fidelity report made before: its memory questions and favourite phrases quote it.
    report_file = pipe.home.root / REPORT_FILE
    report_file.parent.mkdir(mode=0o700, exist_ok=True)
    report_file.write_text(json.dumps({"memory_qa": [{"question": f"What did I say? {SECRET}",
                                                      "answer": SECRET}]}))
    before = traces(pipe.home.root, NEEDLE)
    assert any("fidelity.json" in h for h in before), before
    # The old delete would leave it in the data file; the profile and log hold it too.
    assert any("memory.lancedb" in h for h in before), before
    assert any("profile" in h for h in before) and any("app.log" in h for h in before)
    old_indexes = index_dirs(pipe)
    n_before = pipe.store.count()

    report = pipe.forget_report([m["secret"].id, m["ask"].id])

    assert traces(pipe.home.root, NEEDLE) == []
    assert traces(pipe.home.root, "spare key under the blue") == []
    # Every index was built again after the delete: none of the old index files is left.
    assert not (old_indexes & index_dirs(pipe))
    assert set(report.linked_replies) == {m["reply"].id, m["quote"].id}
    assert report.recordings_deleted == 1 and not (pipe.home.audio_dir / "secret.wav").exists()
    assert report.log_lines_removed == 1
    assert (pipe.home.logs_dir / "app.log").read_text() == "INFO started\nINFO done\n"
    assert os.stat(pipe.home.logs_dir / "app.log").st_mode & 0o777 == 0o600
    assert report.profile_reinduced  # the profile quoted it (found before), induced again
    assert report.fidelity_report_removed and not report_file.exists()
    # The others are untouched and still found by words and by meaning.
    assert pipe.store.count() == n_before - 4
    assert pipe.store.get(m["other_chat"].id).text == m["other_chat"].text
    assert pipe.store.get(m["note"].id).text == m["note"].text
    assert [h.memory.id for h in pipe.store.search("3 apples", k=1, mode="fts")] == [m["note"].id]
    assert pipe.store.search("market apples", k=3, mode="vector")
    # Ids only are kept, never the words.
    listed = read_forgotten(pipe.home.privacy_dir)
    assert listed == {m["secret"].id, m["ask"].id, m["reply"].id, m["quote"].id}


def test_a_forgotten_record_is_never_sampled_again_even_if_it_comes_back(pipe):
    from persona.core.train.runner import TrainOptions, load_dataset, run_training

    m = fill(pipe)
    pipe.forget([m["secret"].id])
    # An old copy of the store brings the row back under its id: still never trained on.
    pipe.store.add([m["secret"]])
    data = load_dataset(pipe.home, pipe.settings)
    ids = {ex.record_id for ex in data.train + data.heldout}
    assert m["secret"].id not in ids and m["note"].id in ids or m["note"].id in {
        ex.record_id for ex in data.heldout}
    outcome = run_training(pipe.home, pipe.settings, TrainOptions(dry_run=True,
                                                                  backend="torch"))
    assert m["secret"].id not in outcome.plan.eligible_ids
    assert len(outcome.plan.eligible_ids) > 100


def test_an_unknown_id_forgets_nothing(pipe):
    from persona.core.errors import StoreError

    m = fill(pipe)
    n = pipe.store.count()
    with pytest.raises(StoreError, match="no-such-id"):
        pipe.forget([m["secret"].id, "no-such-id"])
    assert pipe.store.count() == n and read_forgotten(pipe.home.privacy_dir) == set()
    assert pipe.store.get(m["secret"].id).text == SECRET


def test_a_field_the_person_wrote_is_kept_and_the_sidecar_forgets_the_quote(pipe):
    from persona.core.persona.profile import load_induced, load_profile, save_profile, set_field

    m = fill(pipe)
    induced = load_induced(pipe.home.profile_file)
    quoting = [k for k, v in induced.items() if NEEDLE in repr(v)]
    assert quoting, induced  # induction drew on the secret
    key = quoting[0]
    # The person overwrites that field by hand; a second field quotes the secret in their words.
    profile = set_field(load_profile(pipe.home.profile_file), key, ["my own words"]
                        if isinstance(induced[key], list) else "my own words")
    profile = set_field(profile, "identity.summary", f"I once wrote: {SECRET}")
    save_profile(profile, pipe.home.profile_file)

    report = pipe.forget_report([m["secret"].id, m["ask"].id])

    after = load_profile(pipe.home.profile_file)
    assert "my own words" in repr(after.model_dump()) and NEEDLE in after.identity.summary
    assert report.profile_yours_quoting == ["identity.summary"]
    # The only trace left is the person's own field, which forget never edits.
    assert traces(pipe.home.root, NEEDLE) == ["profile.yaml"]


def test_forget_deletes_the_language_models_saved_persona_prefix(pipe):
    """The saved KV state of the prompt's persona prefix was computed from the profile as it
    was before the forget (core/llm/prefix_state.py): it goes too."""
    from persona.core.llm.prefix_state import SUFFIX, state_dir

    note = Memory(text=SECRET)
    pipe.store.add([note])
    folder = state_dir(pipe.home.root)
    folder.mkdir(parents=True)
    (folder / f"0123{SUFFIX}").write_bytes(b"cells read from the old profile")
    pipe.forget([note.id])
    assert not folder.exists()
