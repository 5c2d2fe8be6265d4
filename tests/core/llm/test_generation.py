"""Input checks and stop strings shared by both backends (pure logic, no model)."""

from __future__ import annotations

import math

import pytest

from persona.core.errors import SettingsError, TextError
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.generation import StopFilter, check_length, check_messages, check_options


def run(stops, pieces):
    f = StopFilter(stops)
    out = [f.feed(p) for p in pieces]
    out.append(f.flush())
    return "".join(out), f.stopped, out


def test_no_stops_passes_everything_through_at_once():
    text, stopped, out = run([], ["Hel", "lo", "!"])
    assert text == "Hello!" and not stopped
    assert out[:3] == ["Hel", "lo", "!"]


def test_stop_inside_one_piece_cuts_before_it():
    text, stopped, _ = run(["\nUser:"], ["Paris.\nUser: and", " more"])
    assert text == "Paris." and stopped


def test_stop_split_across_pieces_is_held_back_then_cut():
    text, stopped, out = run(["</s>"], ["Paris</", "s", "> tail"])
    assert text == "Paris" and stopped
    assert out[0] == "Paris"  # "</" was held back, never emitted


def test_held_text_that_was_not_a_stop_is_released():
    text, stopped, out = run(["END"], ["the EN", "D-game"])
    assert stopped and text == "the "
    text, stopped, out = run(["END"], ["the EN", "TRY"])
    assert not stopped and text == "the ENTRY"
    text, stopped, out = run(["END"], ["ends with EN"])
    assert not stopped and text == "ends with EN" and out[0] == "ends with " and out[1] == "EN"


def test_earliest_of_several_stops_wins():
    text, _, _ = run(["B", "A"], ["xxAyyB"])
    assert text == "xx"


def test_nothing_after_stop():
    f = StopFilter(["."])
    assert f.feed("One. Two") == "One"
    assert f.feed("more") == "" and f.flush() == ""


@pytest.mark.parametrize("messages, needle", [
    ([], "empty"),
    ("hello", "empty"),
    ([{"role": "bot", "content": "x"}], "'bot'"),
    ([{"role": "user", "content": None}], "None"),
    (["just text"], "None"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "assistant"),
])
def test_bad_messages_are_named(messages, needle):
    with pytest.raises(TextError, match=needle):
        check_messages(messages)


def test_good_messages_are_copied_plainly():
    msgs = [{"role": "system", "content": "s", "name": "x"}, {"role": "user", "content": ""}]
    assert check_messages(msgs) == [{"role": "system", "content": "s"},
                                    {"role": "user", "content": ""}]


@pytest.mark.parametrize("kw, needle", [
    ({"max_new_tokens": 0}, "max_new_tokens is 0"),
    ({"max_new_tokens": 2.5}, "max_new_tokens is 2.5"),
    ({"temperature": -0.1}, "temperature is -0.1"),
    ({"temperature": math.nan}, "temperature is nan"),
    ({"top_p": 0.0}, "top_p is 0.0"),
    ({"top_p": 1.5}, "top_p is 1.5"),
    ({"stop": [""]}, "stop is"),
])
def test_bad_options_are_named(kw, needle):
    with pytest.raises(SettingsError, match=needle):
        check_options(GenerationOptions(**kw))


def test_default_options():
    assert check_options(None) == GenerationOptions()


def test_too_long_prompt_is_refused_with_the_fix():
    opts = GenerationOptions(max_new_tokens=100)
    check_length(8092, opts, 8192)
    check_length(10**6, opts, None)
    with pytest.raises(TextError, match="8093 tokens.*holds 8192.*history_turns"):
        check_length(8093, opts, 8192)
