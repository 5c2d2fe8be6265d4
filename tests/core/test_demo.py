"""`persona demo`, the main job: the whole loop on the sample persona, fully offline.

The autouse ``no_network`` fixture (tests/conftest.py) makes every Internet connection
attempt fail, so this test proves the demo needs no network at all.
"""

from __future__ import annotations

import json
import socket

import pytest

from core.audio.io import load_utterance
from core.cli import main
from core.demo import DEFAULT_QUESTION
from tests.core.asr.textmatch import word_error_rate

pytestmark = pytest.mark.slow


def test_the_network_really_is_blocked_in_tests():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match="network connection"):
        s.connect(("127.0.0.1", 9))
    s.close()


def test_demo_runs_the_whole_loop_offline(home, capsys):
    assert main(["demo", "--json", "--home", str(home)]) == 0
    out = json.loads(capsys.readouterr().out)
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
    profile = (home / "profile.yaml").read_text(encoding="utf-8")
    assert "Maya Lindqvist" in profile


def test_demo_in_an_existing_home_does_not_reload_the_sample(home, capsys):
    main(["demo", "--json", "--home", str(home)])
    capsys.readouterr()
    main(["memories", "list", "--json", "--limit", "1000", "--home", str(home)])
    first = json.loads(capsys.readouterr().out)["total"]
    main(["demo", "--json", "--home", str(home), "--question", "What is my cat called?"])
    capsys.readouterr()
    main(["memories", "list", "--json", "--limit", "1000", "--home", str(home)])
    # Only the new conversation turns were added, not a second copy of the diary.
    assert json.loads(capsys.readouterr().out)["total"] == first + 2
