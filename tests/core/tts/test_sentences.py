"""The sentence splitter on streamed text: boundaries, the traps, and how early it decides."""

from __future__ import annotations

import pytest

from persona.core.tts.sentences import SentenceSplitter, speakable, split_sentences


def pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def split(text: str) -> list[str]:
    return list(split_sentences([text]))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_same_sentences_whatever_the_piece_size(size):
    text = ("Dr. Smith measured 3.5 litres. Then he left... Really? Yes! "
            "See e.g. the notes.\nA new line starts here")
    expected = ["Dr. Smith measured 3.5 litres.", "Then he left...", "Really?", "Yes!",
                "See e.g. the notes.", "A new line starts here"]
    assert list(split_sentences(pieces(text, size))) == expected


def test_abbreviations_and_initials_do_not_end_a_sentence():
    assert split("Mr. Haugen and Mrs. Berg met Prof. Olsen at St. Olav. It rained.") == [
        "Mr. Haugen and Mrs. Berg met Prof. Olsen at St. Olav.", "It rained."]
    assert split("I read J. R. R. Tolkien. So did I. We loved it.") == [
        "I read J. R. R. Tolkien.", "So did I.", "We loved it."]
    assert split("Room No. 5 is free. No. It is not.") == [
        "Room No. 5 is free.", "No.", "It is not."]


def test_numbers_and_list_markers():
    assert split("It costs 3.50 today and 4.25 tomorrow. Fine.") == [
        "It costs 3.50 today and 4.25 tomorrow.", "Fine."]
    assert split("In 2019. 5 people came.") == ["In 2019.", "5 people came."]
    assert split("Buy:\n1. Milk and eggs\n2. Bread") == ["Buy:", "1. Milk and eggs", "2. Bread"]


def test_ellipsis_lowercase_and_closing_quotes():
    assert split("I was thinking... maybe not. Wait… What?") == [
        "I was thinking... maybe not.", "Wait…", "What?"]
    assert split('She said "hello." Then she left (quietly.) The end') == [
        'She said "hello."', "Then she left (quietly.)", "The end"]


def test_blank_lines_and_whitespace_are_not_sentences():
    assert split("\n\nFirst.\n\n\n  Second  \n") == ["First.", "Second"]
    assert split("") == [] and split("   \n ") == []


def test_a_sentence_is_released_as_soon_as_the_next_word_starts():
    s = SentenceSplitter()
    assert s.feed("Hello there.") == []  # could still be "Hello there.5" or an abbreviation
    assert s.feed(" ") == []  # the next word decides (lower case would continue it)
    assert s.feed("H") == ["Hello there."]
    assert s.feed("ow are you? ") == ["How are you?"]  # ? and ! need no look-ahead
    assert s.feed("Fine") == []
    assert s.flush() == ["Fine"]
    assert s.flush() == []


def test_speakable():
    assert speakable("Hi.") and speakable("42")
    assert not speakable("...") and not speakable(" * ")


def test_the_first_piece_may_end_at_a_clause_so_speech_starts_sooner():
    text = "Your sister Ingrid lives in Lisbon, and she works as a nurse. She is kind, really."
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    assert list(split_sentences(pieces, first_clause_words=4)) == [
        "Your sister Ingrid lives in Lisbon,", "and she works as a nurse.",
        "She is kind, really."]  # only the first piece is cut at a comma
    # Too few words before the comma: the whole sentence, as without the option.
    assert list(split_sentences(["Yes, she does. Ok."], first_clause_words=4)) == [
        "Yes, she does.", "Ok."]
    assert list(split_sentences(pieces)) == [
        "Your sister Ingrid lives in Lisbon, and she works as a nurse.", "She is kind, really."]


def test_the_first_clause_is_cut_when_its_comma_arrives_not_one_token_later():
    s = SentenceSplitter(first_clause_words=4)
    assert s.feed("Your sister Ingrid lives in Lisbon") == []
    assert s.feed(",") == ["Your sister Ingrid lives in Lisbon,"]  # no wait for " and"
    assert s.feed(" and she is a nurse.") == []
    assert s.flush() == ["and she is a nurse."]
    # A comma after a digit may be a thousands separator: it waits for what follows.
    s = SentenceSplitter(first_clause_words=4)
    assert s.feed("You walked about 1,") == []
    assert s.feed("500 steps, mostly uphill.") == ["You walked about 1,500 steps,"]


def test_the_first_clause_may_end_before_a_joining_word():
    s = SentenceSplitter(first_clause_words=4)
    assert s.feed("My sister Ingrid lives in Lisbon and") == []  # "and" or "android"?
    assert s.feed(" works") == ["My sister Ingrid lives in Lisbon"]
    assert s.feed(" as a nurse and loves it. Bye") == ["and works as a nurse and loves it."]
    # Too few words before it, or not the first piece: no cut.
    assert list(split_sentences(["Miso and Ingrid are here."], first_clause_words=4)) == [
        "Miso and Ingrid are here."]
    whole = "Tomas got engaged to Lea and the wedding is in Porto."
    assert list(split_sentences([whole])) == [whole]  # without the option: sentences only


def test_a_long_first_clause_may_end_before_a_preposition():
    trip = "I am planning a summer trip to Iceland in July to see the puffins."
    assert list(split_sentences([trip], first_clause_words=4)) == [
        "I am planning a summer trip to Iceland", "in July to see the puffins."]
    # Fewer than twice the words before it: the sentence waits for its end.
    assert list(split_sentences(["My sister lives in Lisbon now."], first_clause_words=4)) == [
        "My sister lives in Lisbon now."]
    # Only the first piece is cut.
    assert list(split_sentences(["Yes. I am planning a summer trip to Iceland in July."],
                                first_clause_words=4)) == [
        "Yes.", "I am planning a summer trip to Iceland in July."]
