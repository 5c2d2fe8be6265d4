"""`persona prefer` and `persona prefs` end to end (real store and embedder), what forget
removes, and the choices' trip through the encrypted bundle."""

from __future__ import annotations

import json
import stat

import pytest

from benchmarks.prefs_data import synthetic_pairs
from persona.core.cli import main
from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.core.prefs.store import ChoiceLog, pair, thumb


def _json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _talk(pipe: Pipeline, question: str, reply: str, cid: str) -> tuple[Memory, Memory]:
    turns = (Memory(text=question, source="chat", speaker="person", conversation_id=cid),
             Memory(text=reply, source="chat", speaker="assistant", conversation_id=cid))
    pipe._remember_all([(m, None) for m in turns])
    return turns


def test_thumbs_and_pairs_from_the_command_line(tmp_path, capsys):
    home = str(tmp_path / "home")
    empty = _json(capsys, ["prefs", "--home", home, "--json"])
    assert empty["training_pairs"] == 0 and empty["beats_chance"] is False
    assert main(["prefer", "up", "--home", home]) == 2  # no reply to vote on yet
    assert "ask something first" in capsys.readouterr().err

    pipe = Pipeline(home)
    _, reply = _talk(pipe, "Where does my sister live?", "Your sister Ana lives in Lisbon.", "c1")
    assert _json(capsys, ["prefer", "down", "--home", home, "--json"])["thumbs"] == 1
    (vote,), _ = ChoiceLog(pipe.home.root).current()
    assert (vote.question, vote.reply, vote.vote, vote.reply_id) == (
        "Where does my sister live?", reply.text, -1, reply.id)
    assert _json(capsys, ["prefer", "undo", "--home", home, "--json"])["thumbs"] == 0
    assert main(["prefer", "up", "--home", home, "--id", "nope"]) == 2

    for p in synthetic_pairs("shorter", 12):
        out = _json(capsys, ["prefer", "pair", p.chosen, p.rejected, "--question", p.question,
                             "--home", home, "--json"])
    assert out["pairs"] == 12 and out["beats_chance"] and out["best_of_n_active"]
    assert out["heldout"]["accuracy"] >= 0.8 and "shorter" in out["summary"]
    capsys.readouterr()
    assert main(["prefs", "--home", home]) == 0
    text = capsys.readouterr().out
    assert "Best-of-N is on" in text and "Held-out accuracy" in text
    assert main(["prefer", "pair", "Same.", "Same.", "--home", home]) == 2


def test_forgetting_a_question_forgets_the_votes_on_its_reply(tmp_path):
    pipe = Pipeline(tmp_path / "home")
    question, reply = _talk(pipe, "What is my cat called?", "Your cat is called Miso.", "c1")
    _, other = _talk(pipe, "What did I cook?", "You cooked a lentil soup.", "c2")
    log = ChoiceLog(pipe.home.root)
    log.append(thumb(question.text, reply.text, 1, reply_id=reply.id))
    log.append(pair("What did I cook?", other.text, "Something with lentils, maybe."))
    report = pipe.forget_report([question.id])  # its reply goes too, and so does the vote
    assert report.choices_removed == 1 and report.to_dict()["choices_removed"] == 1
    assert [c.chosen for c in log.read()] == [other.text]
    assert "Miso" not in log.path.read_text(encoding="utf-8")


def test_choices_travel_in_the_encrypted_bundle(tmp_path):
    from persona.core.bundle import export_persona, import_persona
    from tests.privacy.bundle_helpers import PASSPHRASE, small_home

    home = small_home(tmp_path / "home", rows=3)
    log = ChoiceLog(home.root)
    log.append(pair("Q?", "Short.", "A much longer reply."))
    bundle = export_persona(home, tmp_path / "p.persona", passphrase=PASSPHRASE)
    import_persona(bundle.path, tmp_path / "new", passphrase=PASSPHRASE)
    copied = ChoiceLog(tmp_path / "new")
    assert copied.path.read_bytes() == log.path.read_bytes()
    assert stat.S_IMODE(copied.path.stat().st_mode) == 0o600
    assert not (tmp_path / "new" / "preferences" / "choices.jsonl.lock").exists()


@pytest.mark.slow
def test_compare_in_the_terminal_keeps_the_pick(tmp_path, capsys):
    """Two replies from the real default model; the pick (given with --pick) is kept."""
    from persona.core.settings import Settings, save_settings

    pipe = Pipeline(tmp_path / "home")
    save_settings(Settings(max_new_tokens=32, best_of_temperature=1.2),
                  pipe.home.settings_file)
    pipe.remember_text("My sister Ana lives in Lisbon and works as a nurse at the hospital.")
    out = _json(capsys, ["prefer", "compare", "Tell me about my sister.", "--pick", "2",
                         "--home", str(pipe.home.root), "--json"])
    assert out["pairs"] == 1
    (kept,) = ChoiceLog(pipe.home.root).read()
    assert kept.how == "side-by-side" and kept.chosen != kept.rejected
    assert kept.question == "Tell me about my sister."
    assert pipe.store.list(source="chat") == []  # a comparison is not a conversation turn
