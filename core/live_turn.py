"""A push-to-talk turn that starts working while the person is still speaking.

    between:   the reply's text is complete ─► the next prompt's start (system prompt and
               conversation) is read while it is spoken (Pipeline.warm_next_turn)
    key held:  audio ─► about every second, one pass at a time on a worker thread:
               partial transcript ─► retrieve ─► prefill system prompt + history + memories
               + "Question: " + the words heard so far but the last (it may be cut off)
    released:  final transcript ─► emotion ─► retrieve again ─► the prompt, which starts with
               what was prefilled (those memories keep their place, new ones come after)
               ─► streamed reply ─► speech; the person's turn is stored once the first
               words of the reply exist, in parallel with them

At the release the pass in flight stops at its next step (a prefill stops in the middle of
the batch it reads, core/llm/abort.py, so the final transcription has the CPU to itself; the
chunks it read stay cached), the final transcript is made, and the model only reads what the
last pass did not: the memories found since then, the question's last words and the chat
template's end of turn and assistant cue (~10 tokens), which on 2 cores decides the time to
first audio (a 470-token prompt takes ~2 s to read; its last ~40 tokens ~0.2 s). The backend
reuses the cache up to the first token where the final prompt differs, so a partial
transcript that misheard a word costs only the words after it. With no pass at all
(``Pipeline.voice_turn``) the same code gives the plain turn with the plain prompt.

A pass never blocks the audio: ``feed`` only appends the block and, when a pass is due and
none is running, hands a snapshot to the worker. A pass that fails is logged and forgotten;
the release path does everything again from the full recording.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from persona.core.audio.io import load_utterance, resample, to_mono
from persona.core.audio.utterance import SAMPLE_RATE, Utterance
from persona.core.errors import AudioError, PersonaError
from persona.core.llm.abort import StopSignal
from persona.core.memory.schema import Hit, Memory
from persona.core.timing import Timings

log = logging.getLogger(__name__)

_MARK = "<<question>>"  # stands for the question while the prefix is built


@dataclass
class LiveOptions:
    interval_seconds: float = 1.0  # a pass about this often while the key is held
    min_audio_seconds: float = 1.0  # no pass before this much audio (too few words to search)
    max_memories: int = 8  # prefilled and newly found together, in the final prompt
    # At the release a memory no pass prefilled joins the prompt only when the final search
    # ranks it this high, and above every prefilled one: it goes before the question, so the
    # model reads it and the question again (~40-150 tokens, 0.35-1.4 s on 2 cores; measured
    # with Qwen 0.5B, 2-3 of 6 turns found a new top-3 one, most often below a prefilled
    # memory that already answered). The final best one is always in the prompt.
    new_at_release: int = 3


@dataclass
class Pass:
    """What one speculative pass did (for the benchmark and the tests)."""

    audio_seconds: float
    text: str
    memory_ids: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


class TurnCancelled(PersonaError):
    """``finish`` after ``cancel``: the turn was discarded."""


class LiveTurn:
    """One push-to-talk turn: ``feed`` audio while the key is held, then ``finish``."""

    def __init__(self, pipe, options: LiveOptions | None = None, *,
                 use_memory: bool = True) -> None:
        self.pipe = pipe
        self.options = options or LiveOptions()
        self.use_memory = use_memory
        self.now = datetime.now(timezone.utc)  # one date for the prefix and the final prompt
        self.order: list[Hit] = []  # the memories in the last prefilled prompt, in order
        self.prefilled: list[dict[str, str]] | None = None  # the messages last prefilled
        self.passes: list[Pass] = []
        self._chunks: list[np.ndarray] = []
        self._rate = SAMPLE_RATE
        self._frames = 0
        self._last_pass_frames = 0
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False  # released or cancelled: no new pass
        # Set at the release: the pass in flight stops at its next step (a prefill at once).
        self._stop_pass = StopSignal()
        self._cancelled = False
        self._job: Future | None = None
        self._exec: ThreadPoolExecutor | None = None
        self._conv = None

    # ------------------------------------------------------------------ while speaking
    def feed(self, block: np.ndarray, rate: int = SAMPLE_RATE) -> None:
        """One block of the recording (any rate and channel count), from the recorder's
        gathering thread; starts a pass when one is due and none is running."""
        with self._lock:
            if self._closed:
                return
            self._chunks.append(block)
            self._rate = rate
            self._frames += len(block)
            o = self.options
            # The first block starts a pass at once: with too little audio to transcribe, it
            # reads the conversation so far into the cache (done already when the pipeline
            # read it between turns, Pipeline.warm_next_turn; then it costs nothing).
            first = self._job is None
            if not first and (self._busy or self._frames < o.min_audio_seconds * rate
                              or self._frames - self._last_pass_frames
                              < o.interval_seconds * rate):
                return
            self._busy, self._last_pass_frames = True, self._frames
            if self._exec is None:
                self._exec = ThreadPoolExecutor(1, thread_name_prefix="persona-live")
            self._job = self._exec.submit(self._pass, list(self._chunks), rate)

    def cancel(self) -> None:
        """Discard the turn (the person cancelled, or spoke again): the pass in flight stops
        at its next step, no other starts, and ``finish`` refuses. What the model cached
        stays harmless: the next prompt reuses only what it shares."""
        with self._lock:
            self._closed = self._cancelled = True
            self._stop_pass.set()
        self._shutdown()

    @property
    def busy(self) -> bool:
        return self._busy

    def _pass(self, chunks: list[np.ndarray], rate: int) -> None:
        t0 = time.perf_counter()
        seconds: dict[str, float] = {}
        try:
            audio = resample(to_mono(np.concatenate(chunks)), rate, SAMPLE_RATE)
            text, hits = "", None
            if len(audio) >= self.options.min_audio_seconds * SAMPLE_RATE:
                asr = self.pipe.transcriber
                draft = getattr(asr, "transcribe_partial", asr.transcribe)  # cheaper, if any
                try:
                    text = draft(Utterance(audio)).text
                except AudioError:
                    return  # nothing intelligible yet
            seconds["asr"] = time.perf_counter() - t0
            if self._stop_pass.is_set():
                return
            self._context()
            if text:
                hits = self.pipe.recall(text) if self.use_memory else []
            order = self.order if hits is None else self._merge(hits, keep_all=False)
            messages = self._prefix(order, _heard_so_far(text))
            seconds["retrieve"] = time.perf_counter() - t0 - seconds["asr"]
            if self._stop_pass.is_set():
                return
            # The cache holds a prefix of this prompt from here on, all of it or (stopped by
            # the release at a chunk's end) the start of it: the final prompt keeps this
            # order so it reuses whatever was read.
            with self._lock:
                self.order, self.prefilled = order, messages
            self.pipe.llm.prefill(messages, cancel=self._stop_pass, open_end=True)
            seconds["prefill"] = time.perf_counter() - t0 - sum(seconds.values())
            if not self._stop_pass.is_set():
                self.pipe.warm_focus(messages)  # the grounding gate's word vectors
                seconds["focus"] = time.perf_counter() - t0 - sum(seconds.values())
            self.passes.append(Pass(len(audio) / SAMPLE_RATE, text,
                                    [h.memory.id for h in order], seconds))
        except Exception:  # noqa: BLE001 - the release path does it all again
            log.exception("a speculative pass failed; the turn goes on without it")
        finally:
            with self._lock:
                self._busy = False

    def _context(self) -> None:
        """The conversation the turn belongs to, read once (after the last turn's writes)."""
        if self._conv is None:
            from persona.core.conversation import Conversation

            self.pipe.wait_for_writes()
            self._conv = Conversation.current(self.pipe.store,
                                              max_turns=self.pipe.settings.history_turns)

    def _merge(self, hits: list[Hit], *, keep_all: bool) -> list[Hit]:
        """The memories for the next prompt: the prefilled ones in their places (between
        passes only those still found; at the end all of them, and of the new ones only
        those ranked within ``new_at_release``), then the new ones, least relevant first so
        the best sits right before the question, as in the plain prompt."""
        fresh = {h.memory.id: h for h in hits}
        kept = [fresh.get(h.memory.id, h) for h in self.order
                if keep_all or h.memory.id in fresh]
        have = {h.memory.id for h in kept}
        if keep_all and kept:
            # The release: a new memory joins only when the final search ranks it within
            # its top ones AND above every prefilled memory: when the best it found was
            # prefilled, the prompt already holds what the question is about, and a new one
            # would cost its own tokens and the question's, read again.
            ranked = sorted(hits, key=lambda h: -h.score)
            first_kept = next((i for i, h in enumerate(ranked) if h.memory.id in have),
                              len(ranked))
            top = ranked[:min(self.options.new_at_release, first_kept)]
            have |= {h.memory.id for h in hits} - {h.memory.id for h in top}
        new = [h for h in sorted(hits, key=lambda h: h.score) if h.memory.id not in have]
        while len(kept) + len(new) > self.options.max_memories:
            stale = [i for i, h in enumerate(kept) if h.memory.id not in fresh]
            if stale:
                del kept[stale[-1]]  # the latest prefilled one no longer found: cheapest
            elif new:
                del new[0]
            else:
                del kept[-1]
        return kept + new

    def _prefix(self, order: list[Hit], question: str = "") -> list[dict[str, str]]:
        return prompt_start(self.pipe, order, self._conv.history, self.now, question)

    # ------------------------------------------------------------------ released
    def finish(self, utterance: Utterance | str | Path, *, speak: bool = False,
               wav: Path | None = None,
               on_heard: Callable | None = None,
               on_text: Callable[[str], None] | None = None,
               stop: threading.Event | None = None,
               silence: threading.Event | None = None, as_me: bool = False):
        """The key was released: hear the whole ``utterance``, answer it (``as_me``: in the
        person's voice, Pipeline.reply); returns (Heard, Reply) as ``Pipeline.voice_turn``.
        The person's turn is stored in parallel with the reply and committed before this
        returns (a failure raises here)."""
        from persona.core.pipeline import Heard, _emotion_fields

        pipe = self.pipe
        t = Timings()
        with self._lock:
            if self._cancelled:
                raise TurnCancelled("this turn was cancelled; start a new one")
            self._closed = True
            self._stop_pass.set()
            job = self._job
        try:
            if not isinstance(utterance, Utterance):
                with t.stage("load"):
                    utterance = load_utterance(utterance, limits=pipe.audio_limits)
            # The pass in flight is not waited for: it stops at its next step (a prefill at
            # once; a draft transcription holds Whisper until it ends, ~0.2 s at most).
            heard: Heard = pipe.hear(utterance, store=False, timings=t)
            if job is not None:
                with t.stage("wait for pass"):  # what it read stays cached
                    job.result()
            self._context()
            text = heard.transcript.text
            turn = Memory(text=text, source="chat", speaker="person",
                          conversation_id=self._conv.id, **_emotion_fields(heard.emotion))
            if on_heard is not None:
                on_heard(heard)
            with t.stage("retrieve"):
                hits = pipe.recall(text, exclude_ids=[turn.id]) if self.use_memory else []
                order = self._merge(hits, keep_all=True)
            stored: list[Future] = []

            def first_words(piece: str) -> None:
                if not stored:  # off the critical path: beside the first words
                    stored.append(pipe.remember_soon(turn, audio=utterance))
                if on_text is not None:
                    on_text(piece)

            reply = pipe.reply(text, emotion=heard.emotion, speak=speak, wav=wav,
                               use_memory=self.use_memory, question_memory=turn,
                               conversation=self._conv, timings=t, on_text=first_words,
                               stop=stop, silence=silence, hits=order, now=self.now,
                               as_me=as_me)
            if not stored:
                stored.append(pipe.remember_soon(turn, audio=utterance))
            with t.stage("store turn"):
                heard.memory, heard.duplicate = stored[0].result()
            return heard, reply
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._exec is not None:
            self._exec.shutdown(wait=False, cancel_futures=True)


def prompt_start(pipe, order: list[Hit], history: list[dict[str, str]], now: datetime,
                 question: str = "") -> list[dict[str, str]]:
    """The prompt up to where a memory found later would go: what it shares with the same
    prompt given one more memory (so it holds whatever the prompt's layout puts between the
    memories and the question); with ``question`` (the words heard so far), on to the end of
    them: a memory found at the release then costs those words, read again, and saves nothing
    less than before. With no memories and no question: the system prompt and the
    conversation (what ``Pipeline.warm_next_turn`` reads between turns)."""
    def build(hits, q=_MARK):
        return pipe.prompt_messages(q, hits, history, now=now, keep_order=True)

    messages = build(order)
    more = build([*order, Hit(Memory(text="\u2063"), float("-inf"))])
    content, other = messages[-1]["content"], more[-1]["content"]
    n = 0
    while n < min(len(content), len(other)) and content[n] == other[n]:
        n += 1
    head = content[:min(n, content.index(_MARK))]
    if question:
        asked = build(order, f"{question} {_MARK}")
        text = asked[-1]["content"]
        # The same prompt up to the question (the budget may drop a memory for a long
        # question: then the question waits for the release).
        if asked[:-1] == messages[:-1] and text.startswith(head):
            head = text[:text.index(_MARK)].rstrip()
    return messages[:-1] + [{"role": messages[-1]["role"], "content": head}]


def _heard_so_far(text: str) -> str:
    """The words of a partial transcript worth reading before the release: all but the last,
    which the recording may have cut in the middle (Whisper then guesses another word)."""
    words = text.split()
    return " ".join(words[:-1])


def feed_in_real_time(live: LiveTurn, utterance: Utterance, *, block_seconds: float = 0.05,
                      speed: float = 1.0) -> None:
    """Hand ``utterance`` to ``live`` block by block at the pace of speech, as the recorder
    does while the key is held (the benchmark and the tests speak through this)."""
    block = max(1, int(utterance.sample_rate * block_seconds))
    start = time.perf_counter()
    for i in range(0, len(utterance.audio), block):
        due = start + i / utterance.sample_rate / speed
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        live.feed(utterance.audio[i:i + block], utterance.sample_rate)
    end = start + len(utterance.audio) / utterance.sample_rate / speed
    if end > time.perf_counter():
        time.sleep(end - time.perf_counter())
