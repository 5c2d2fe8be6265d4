"""The choices file: append-only, private, torn-line tolerant, and forgetful on request."""

from __future__ import annotations

import json
import stat

import pytest

from persona.core.errors import TextError
from persona.core.prefs.store import ChoiceLog, forget_lines, pair, thumb


def test_choices_are_kept_privately_and_a_later_thumb_replaces_an_earlier(tmp_path):
    log = ChoiceLog(tmp_path)
    log.append(thumb("Where does Ana live?", "In Lisbon.", 1, reply_id="r1"))
    log.append(pair("What is my cat called?", "Miso.", "Your cat is called Miso, I think."))
    log.append(thumb("Where does Ana live?", "In Lisbon.", -1, reply_id="r1"))
    log.append(thumb("Hi?", "Hello!", 1))
    log.append(thumb("Hi?", "Hello!", 0))  # taken back
    thumbs, pairs = log.current()
    assert [(t.reply_id, t.vote) for t in thumbs] == [("r1", -1)]
    assert [(p.chosen, p.rejected) for p in pairs] == [
        ("Miso.", "Your cat is called Miso, I think.")]
    assert len(log.read()) == 5  # append-only: the history stays
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.dir.stat().st_mode) == 0o700


def test_a_line_torn_by_a_crash_is_ignored_and_cut_off_by_the_next_append(tmp_path):
    log = ChoiceLog(tmp_path)
    log.append(thumb("Q?", "A.", 1))
    with open(log.path, "ab") as f:
        f.write(b'{"kind": "thumb", "question": "half a li')  # the writer died here
    assert len(log.read()) == 1
    log.append(pair("Q?", "Short.", "Long reply."))
    lines = log.path.read_bytes().decode().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["v"] == 1 for line in lines)


def test_a_damaged_line_in_the_middle_is_an_error_naming_the_line(tmp_path):
    log = ChoiceLog(tmp_path)
    log.append(thumb("Q?", "A.", 1))
    with open(log.path, "ab") as f:
        f.write(b"not json\n")
    before = log.path.read_bytes()
    with pytest.raises(TextError, match="line 2"):
        log.append(thumb("Q2?", "B.", -1))
    with pytest.raises(TextError, match="line 2"):
        log.read()
    assert log.path.read_bytes() == before  # nothing was lost or added


@pytest.mark.parametrize("make", [lambda: thumb("Q?", "  ", 1), lambda: thumb("Q?", "A", 2),
                                  lambda: pair("Q?", "Same.", "Same."),
                                  lambda: pair("Q?", "", "B")])
def test_bad_choices_are_refused_before_anything_is_written(tmp_path, make):
    with pytest.raises(TextError):
        make()
    assert not ChoiceLog(tmp_path).path.exists()


def test_forget_removes_the_choices_that_quote_a_forgotten_text_or_reply(tmp_path):
    log = ChoiceLog(tmp_path)
    log.append(thumb("Where does Ana live?", "Your sister Ana lives in Lisbon.", 1,
                     reply_id="reply-1"))
    log.append(pair("Tell me about my week", "You adopted a grey cat called Miso.",
                    "You were busy."))
    log.append(thumb("What did I cook?", "A lentil soup.", 1, reply_id="reply-3"))
    removed = forget_lines(tmp_path, ["reply-1"], ["I adopted a grey cat called Miso",
                                                   "adopted a grey cat called Miso"])
    assert removed == 2
    assert [c.reply for c in log.read()] == ["A lentil soup."]
    assert "Miso" not in log.path.read_text() and "Lisbon" not in log.path.read_text()
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
