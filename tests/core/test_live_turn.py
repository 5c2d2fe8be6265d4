"""The live voice turn with its real parts (Whisper, LanceDB, the default language model):
speculative passes while the clip is fed at the pace of speech, then the release."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest

from persona.core.audio.io import load_utterance
from persona.core.audio.utterance import Utterance
from persona.core.conversation import Conversation
from persona.core.errors import StoreError
from persona.core.live_turn import LiveTurn, TurnCancelled, feed_in_real_time, prompt_start
from persona.core.llm.llamacpp_backend import MIN_READ
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings

pytestmark = pytest.mark.slow

QUESTION = "Where does my sister live, and what is her job?"


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    # retrieval_k 1: the one best memory, so the prompt is the same whatever the partials found
    p = Pipeline(tmp_path_factory.mktemp("home"), settings=Settings(retrieval_k=1))
    p.remember_text("My sister Ana lives in Lisbon and works as a nurse.")
    p.remember_text("I adopted a grey cat called Miso in January.")
    p.warm_up()
    return p


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Utterance:
    from tests.conftest import espeak_wav

    return load_utterance(espeak_wav(QUESTION, tmp_path_factory.mktemp("clip") / "q.wav"))


def _with_pause(utt: Utterance, seconds: float = 1.3) -> Utterance:
    """The clip and a pause before the key is released (a pass then hears all of it)."""
    quiet = np.zeros(int(seconds * utt.sample_rate), dtype=np.float32)
    return Utterance(np.concatenate([utt.audio, quiet]), utt.sample_rate)


def _forget_turns(pipe: Pipeline, *turns) -> None:
    """Back to the same memories and no conversation, for the next turn to compare with."""
    ids = [m.id for m in turns if m is not None]
    chat = [m.id for m in pipe.store.list(limit=20, source="chat")]
    pipe.forget(sorted(set(ids + chat)))


def test_live_turn_gives_the_plain_turns_transcript_prompt_and_reply(pipe, clip):
    utt = _with_pause(clip)
    heard0, plain = pipe.voice_turn(utt)
    _forget_turns(pipe, heard0.memory)

    live = LiveTurn(pipe)
    feed_in_real_time(live, utt)
    heard, reply = live.finish(utt)
    _forget_turns(pipe, heard.memory)

    assert live.passes, "no speculative pass ran while the clip was fed"
    assert heard.transcript.text == heard0.transcript.text
    assert reply.messages == plain.messages
    assert reply.text == plain.text and reply.text
    # The prefilled prompt is a prefix of the final one up to the question (same turns,
    # same memories), then the question's words as the partial transcript heard them
    # (Whisper may punctuate them otherwise at the end: the cache is reused up to there).
    pre = live.prefilled
    assert pre is not None and pre[:-1] == reply.messages[:-1]
    head, _, asked = pre[-1]["content"].partition("Question: ")
    final = reply.messages[-1]["content"]
    assert final.startswith(head + "Question: ")
    assert "sister" in head  # the memory was in it, read while speaking
    words = lambda t: [w.strip(",.?!").lower() for w in t.split()]  # noqa: E731
    heard_words = words(final.partition("Question: ")[2])
    assert len(words(asked)) >= 4 and words(asked)[:3] == heard_words[:3], asked
    stats = getattr(pipe.llm, "last_stats", None)
    if stats is not None:  # llama.cpp: after the release only the question was read
        assert stats.evaluated_tokens < stats.prompt_tokens / 3, stats


def test_the_release_stops_a_prefill_in_flight_and_the_reply_is_the_plain_one(pipe, clip):
    utt = _with_pause(clip)
    heard0, plain = pipe.voice_turn(utt)
    _forget_turns(pipe, heard0.memory)
    llm = pipe.llm
    if not hasattr(llm, "last_stats"):
        pytest.skip("the default backend here has no chunked prefill")
    reading, stopped = threading.Event(), []
    real = llm.prefill

    def prefill(messages, *, cancel=None, **kw):  # the real prefill, seen from outside
        reading.set()
        read = real(messages, cancel=cancel, **kw)
        stopped.append((read, len(llm.encode(messages)), cancel.is_set()))
        return read

    live = LiveTurn(pipe)
    llm.prefill = prefill
    try:
        llm.llm.reset()  # an empty cache: the first pass has the whole prompt to read
        llm._prefilled = None
        live.feed(utt.audio[:1600], utt.sample_rate)  # the first block starts a pass
        assert reading.wait(30)
        heard, reply = live.finish(utt)  # released while that pass reads
    finally:
        del llm.prefill
    _forget_turns(pipe, heard.memory)
    read, total, cancelled = stopped[0]
    assert cancelled and read < total  # it stopped at a chunk's end, not at the prompt's
    assert reply.messages == plain.messages and reply.text == plain.text


def test_new_memories_after_release_are_appended_after_the_prefilled_ones(pipe, clip):
    live = LiveTurn(pipe)
    cat = pipe.search("grey cat Miso", k=1)
    live.order = cat  # as if a pass had prefilled the cat memory
    live._context()
    prefix = live._prefix(live.order)
    heard, reply = live.finish(clip)
    _forget_turns(pipe, heard.memory)
    last = reply.messages[-1]["content"]
    assert last.startswith(prefix[-1]["content"])
    assert last.index("Miso") < last.index("Lisbon") < last.index(heard.transcript.text)


def test_cancel_mid_speech_discards_the_turn(pipe, clip):
    before = pipe.store.count()
    live = LiveTurn(pipe)
    half = Utterance(clip.audio[: int(1.6 * clip.sample_rate)], clip.sample_rate)
    feed_in_real_time(live, half)  # a pass starts at 1 s
    live.cancel()
    passes = len(live.passes)
    live.feed(clip.audio, clip.sample_rate)  # more audio starts nothing
    deadline = time.monotonic() + 30
    while live.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live.busy
    assert len(live.passes) <= passes + 1  # at most the pass in flight, stopped early
    with pytest.raises(TurnCancelled):
        live.finish(clip)
    assert pipe.store.count() == before


def test_the_turn_is_stored_beside_the_reply_and_before_the_next_retrieval(pipe, clip,
                                                                         monkeypatch):
    # A slow disk is simulated (a delay around the real write) to see the write run beside
    # the reply; the write itself is real.
    real = pipe._remember
    wrote = threading.Event()
    first_piece: list[float] = []

    def slow_remember(memory, **kw):
        time.sleep(1.0)
        out = real(memory, **kw)
        if memory.speaker == "person":
            wrote.set()
        return out

    monkeypatch.setattr(pipe, "_remember", slow_remember)

    def on_text(piece):
        if not first_piece:
            first_piece.append(time.monotonic())
            assert not wrote.is_set(), "the reply waited for the turn to be stored"

    heard, reply = pipe.voice_turn(clip, on_text=on_text)
    assert first_piece and wrote.is_set()
    assert heard.memory is not None
    assert pipe.store.get(heard.memory.id).text == heard.transcript.text
    _forget_turns(pipe, heard.memory)


def test_a_failed_write_of_the_turn_is_reported(pipe, clip, monkeypatch):
    real = pipe._remember

    def broken(memory, **kw):
        if memory.speaker == "person":
            raise StoreError("the disk is full")
        return real(memory, **kw)

    monkeypatch.setattr(pipe, "_remember", broken)
    with pytest.raises(StoreError, match="disk is full"):
        pipe.voice_turn(clip)
    monkeypatch.undo()
    _forget_turns(pipe)


def _next_start(pipe: Pipeline) -> list[dict[str, str]]:
    """What the next turn reads first: the system prompt and the conversation so far."""
    conv = Conversation.current(pipe.store, max_turns=pipe.settings.history_turns)
    return prompt_start(pipe, [], conv.history, datetime.now(timezone.utc))


def test_between_turns_the_next_turns_start_is_read_while_the_reply_is_spoken(pipe):
    question = "Where does my sister live?"
    pipe.warm_between_turns = True
    try:
        reply = pipe.reply(question)
        pipe._warmer.submit(lambda: None).result(timeout=60)  # the warm-up ran before it
        start = _next_start(pipe)
        assert start[-3:-1] == [{"role": "user", "content": question},
                                {"role": "assistant", "content": reply.text}]
        # Already in the model's cache: only the last MIN_READ tokens are read again.
        assert pipe.llm.prefill(start, open_end=True) <= MIN_READ
        _forget_turns(pipe)
        # Without it (as in a one-shot `persona ask`), the next turn reads the exchange.
        pipe.warm_between_turns = False
        pipe.reply(question)
        assert pipe.llm.prefill(_next_start(pipe), open_end=True) > 10
    finally:
        pipe.warm_between_turns = False
        _forget_turns(pipe)
