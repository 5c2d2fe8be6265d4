"""`persona demo`, the main job: the whole loop on the sample persona, fully offline.

The autouse ``no_network`` fixture (tests/conftest.py) makes every Internet connection
attempt fail, so this test proves the demo needs no network at all.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from persona.core.audio.io import load_utterance
from persona.core.cli import main
from persona.core.cli.demo import DEFAULT_QUESTION, demo_home
from persona.core.errors import SettingsError
from tests.core.asr.textmatch import word_error_rate


def test_the_network_really_is_blocked_in_tests():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match="network connection"):
        s.connect(("127.0.0.1", 9))
    s.close()


@pytest.mark.slow
def test_demo_runs_the_whole_loop_offline_in_its_own_folder(home, tmp_path, monkeypatch, capsys):
    # The person's data folder is set, and the demo must not write a byte into it (issue 8,
    # leak 2: it used to import the invented diary and store its question as the person's).
    monkeypatch.setenv("PERSONA_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["demo", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(home.iterdir()) == []
    demo = Path(out["demo_folder"])
    assert demo == (tmp_path / "cache" / "persona" / "demo").resolve()
    assert Path(out["reply_wav"]).is_relative_to(demo)
    assert {"transcript", "emotion", "retrieved", "reply", "reply_wav", "timings"} <= set(out)
    # The question is synthesised by espeak-ng and heard by tiny.en: close, not always exact.
    assert word_error_rate(out["transcript"], DEFAULT_QUESTION) <= 0.3, out["transcript"]
    assert "sister" in out["transcript"].casefold()
    assert set(out["emotion"]) >= {"label", "valence", "arousal"}
    assert any("Lisbon" in t for t in out["retrieved"])
    assert out["reply"].strip()
    reply = load_utterance(out["reply_wav"])  # a real, non-silent spoken reply
    assert reply.duration > 0.5
    for stage in ("asr", "emotion", "memory", "retrieve", "reply", "first_audio_after_question"):
        assert out["timings"][stage] > 0, stage
    # The sample persona's hand-written identity survived induction.
    profile = (demo / "profile.yaml").read_text(encoding="utf-8")
    assert "Maya Lindqvist" in profile


@pytest.mark.slow
def test_demo_in_an_existing_folder_does_not_reload_the_sample(home, capsys):
    main(["demo", "--json", "--dir", str(home)])
    capsys.readouterr()
    main(["memories", "list", "--json", "--limit", "1000", "--home", str(home)])
    first = json.loads(capsys.readouterr().out)["total"]
    main(["demo", "--json", "--dir", str(home), "--question", "What is my cat called?"])
    capsys.readouterr()
    main(["memories", "list", "--json", "--limit", "1000", "--home", str(home)])
    # Only the new conversation turns were added, not a second copy of the diary.
    assert json.loads(capsys.readouterr().out)["total"] == first + 2


def test_the_demo_refuses_a_folder_inside_the_persons_data_folder(home, monkeypatch, capsys):
    monkeypatch.setenv("PERSONA_HOME", str(home))
    with pytest.raises(SettingsError, match="inside your data folder"):
        demo_home(home / "demo")
    assert main(["demo", "--dir", str(home)]) == 2
    assert "--dir" in capsys.readouterr().err
    assert list(home.iterdir()) == []
    with pytest.raises(SystemExit):  # --home is not a demo option: it named the person's folder
        main(["demo", "--home", str(home)])
