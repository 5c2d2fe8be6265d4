"""The one place where the stages are wired together.

    utterance ─► asr ─► emotion ─► memory            (hear)
    question  ─► retrieve ─► prompt ─► llm ─► tts    (reply)

Every component is created on first use, so a command that only lists memories never loads
Whisper or the language model. The CLI, the demo and the desktop app all drive this class;
none of them wires stages together on its own.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from persona.core.asr.base import Transcript
from persona.core.atomic import atomic_write_text
from persona.core.audio.io import AudioLimits, check_utterance, load_utterance, save_utterance
from persona.core.audio.utterance import Utterance
from persona.core.emotion.base import EmotionTag
from persona.core.errors import PersonaError
from persona.core.llm.backend import GenerationOptions
from persona.core.memory.schema import Hit, Memory
from persona.core.paths import Home
from persona.core.settings import Settings, load_settings
from persona.core.timing import Timings

log = logging.getLogger(__name__)


@dataclass
class Heard:
    """One utterance after speech-to-text and emotion tagging."""

    transcript: Transcript
    emotion: EmotionTag
    memory: Memory | None  # None when it was not stored (or was a duplicate)
    duplicate: bool = False
    timings: Timings = field(default_factory=Timings)


@dataclass
class Reply:
    question: str
    text: str
    hits: list[Hit]
    emotion: EmotionTag | None
    wav: Path | None = None
    first_token_s: float | None = None  # from the start of the reply
    first_audio_s: float | None = None  # from the start of the reply; None when not spoken
    first_clause_s: float | None = None  # the first sentence or clause was complete
    first_speech_s: float | None = None  # ... and synthesised (played from first_audio_s)
    messages: list[dict[str, str]] = field(default_factory=list)  # the prompt it answered
    # Each part of a two-part question: (part, its prompt, the model's pieces before the gate).
    parts: list[tuple[str, list[dict[str, str]], list[str]]] = field(default_factory=list)
    # Best-of-N (core/prefs/bestof.py): the candidates and the one chosen, per part.
    best_of: list = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    # Its statements no memory supports (core/persona/claims.py), checked once it is done.
    unsupported: list = field(default_factory=list)


def component(build: Callable) -> property:
    """A component built on first use, once, even when several threads ask at once (the app
    records while Whisper loads on a worker): later callers wait for the first build.

    Like ``functools.cached_property`` it keeps the value in the instance's ``__dict__`` (pop
    it to rebuild), but with a lock per instance and name: ``cached_property`` has had no
    lock since Python 3.12.
    """
    name = build.__name__

    def get(self):
        try:
            return self.__dict__[name]
        except KeyError:
            pass
        with self._lock:
            lock = self._component_locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self.__dict__:
                self.__dict__[name] = build(self)
            return self.__dict__[name]

    return property(get, doc=build.__doc__)


class Pipeline:
    """Persona's pipeline over one home folder."""

    # Read the next turn's prompt start between turns (warm_next_turn): for front ends that
    # stay open (the app, `persona listen`); a one-shot `persona ask` would wait for it to exit.
    warm_between_turns = False

    def __init__(self, home: Home | str | Path | None = None,
                 settings: Settings | None = None) -> None:
        self.home = (home if isinstance(home, Home) else Home.resolve(home)).ensure()
        self.settings = settings or load_settings(self.home.settings_file)
        self._lock = threading.RLock()
        self._component_locks: dict[str, threading.Lock] = {}
        self._writer: ThreadPoolExecutor | None = None  # see remember_soon
        self._writes: list[Future] = []
        self._warmer: ThreadPoolExecutor | None = None  # see warm_next_turn
        self._style = None  # the person's StyleProfile, for replies "as me"
        # Told of one-off work while a model loads (joining its parts, checking its sha256,
        # making its runtime copy: seconds, once per machine); the CLI prints it, the app
        # shows it in the status line.
        self.model_progress: Callable[[str], None] | None = None

    # ----------------------------------------------------------------- components
    @component
    def transcriber(self):
        from persona.core.asr.whisper import WhisperTranscriber

        return WhisperTranscriber.from_settings(self.settings)

    @component
    def tagger(self):
        from persona.core.emotion.baseline import SpeakerBaseline
        from persona.core.emotion.tagger import ProsodyTextTagger

        baseline = SpeakerBaseline()
        path = self._baseline_file
        if path.exists():
            try:
                baseline = SpeakerBaseline.from_dict(json.loads(path.read_text("utf-8")))
            except (ValueError, PersonaError) as exc:  # a bad baseline only costs accuracy
                log.warning("ignoring the voice baseline %s: %s", path, exc)
        return ProsodyTextTagger(baseline, learn=True)

    @component
    def embedder(self):
        from persona.core.memory.embed import Embedder

        return Embedder.from_settings(self.settings)

    @component
    def word_vectors(self):
        """Single-word vectors for the grounding gate's focus check, cached per process."""
        from persona.core.persona.focus import WordVectors

        return WordVectors(self.embedder.encode)

    @component
    def store(self):
        from persona.core.memory.retention import sweep_quietly
        from persona.core.memory.store import MemoryStore

        store = MemoryStore(self.home.memory_dir, self.embedder, settings=self.settings)
        sweep_quietly(self.home, store, self.settings)  # expired recordings and transcripts
        return store

    @component
    def llm(self):
        from persona.core.llm.factory import load_backend

        return load_backend(self.settings, self.home, progress=self.model_progress)

    @component
    def prefs(self):
        """The person's choices and reward model (core/prefs/service.py)."""
        from persona.core.prefs.service import Preferences

        return Preferences(self.home.root, self.home.profile_file,
                           encode=lambda texts: self.embedder.encode(texts))

    @component
    def speaker(self):
        from persona.core.tts.pyttsx3_engine import Pyttsx3Speaker

        return Pyttsx3Speaker.from_settings(self.settings)

    @property
    def audio_limits(self) -> AudioLimits:
        return AudioLimits(max_seconds=self.settings.max_record_seconds)

    @property
    def _baseline_file(self) -> Path:
        return self.home.root / "voice_baseline.json"

    def preload(self, *names: str) -> None:
        """Start building the components ``names`` on threads of their own, so that a cold
        command overlaps them: importing LanceDB is Python work (~1 s, most of it its REST
        namespace client), loading a GGUF is C work that releases the GIL (~0.5 s). A build
        that fails here is left alone: the first real use builds it again and raises."""
        def build(name: str) -> None:
            try:
                built = getattr(self, name)
                first_use = getattr(built, "prepare_first_use", None)
                if first_use is not None:  # e.g. the embedder's question encoder
                    first_use()
            except Exception:  # noqa: BLE001 - raised again where it is used
                log.debug("preloading %s failed", name, exc_info=True)

        for name in names:
            threading.Thread(target=build, args=(name,), name=f"persona-preload-{name}",
                             daemon=True).start()

    def warm_up(self, *, asr: bool = True, llm: bool = True) -> None:
        """Load the models now, so that the first push-to-talk is as fast as the rest."""
        if asr:
            self.transcriber.warm_up()
        self.store.count()
        # The query embedder and the search load on first use (in the app that first use
        # was a worker in the first voice turn, holding the GIL: a 283 ms UI stall).
        self.recall("hello")
        if llm:
            from persona.core.persona.prompt import build_messages

            # Reading the persona's system prompt now leaves its KV state cached for the
            # first real question.
            self.llm.chat(build_messages(self.profile(), [], [], "Hello"),
                          GenerationOptions(max_new_tokens=1))

    # ----------------------------------------------------------------- hearing
    def hear(self, utterance: Utterance | str | Path, *, store: bool = True,
             source: str = "voice", timings: Timings | None = None) -> Heard:
        """Transcribe and tag one utterance and (unless ``store=False``) remember it.

        Empty, silent or unreadable audio raises ``AudioError`` and stores nothing.
        """
        t = timings if timings is not None else Timings()
        if not isinstance(utterance, Utterance):
            with t.stage("load"):
                utterance = load_utterance(utterance, limits=self.audio_limits)
        check_utterance(utterance, self.audio_limits)
        with t.stage("asr"):
            transcript = self.transcriber.transcribe(utterance)
        with t.stage("emotion"):
            tag = self.tagger.tag(transcript.text, utterance, transcript)
            self._save_baseline()
        heard = Heard(transcript, tag, None, timings=t)
        if store:
            with t.stage("memory"):
                heard.memory, heard.duplicate = self._remember(
                    Memory(text=transcript.text, source=source, **_emotion_fields(tag)),
                    audio=utterance)
        return heard

    def _save_baseline(self) -> None:
        try:
            atomic_write_text(self._baseline_file, json.dumps(self.tagger.baseline.to_dict()))
        except OSError as exc:  # the tag is still right; only the next one loses the update
            log.warning("could not save the voice baseline: %s", exc)

    def _remember(self, memory: Memory, *, audio: Utterance | None = None
                  ) -> tuple[Memory | None, bool]:
        """Store one memory (with its recording, if the ``keep_recordings`` setting is on);
        returns (memory, was_duplicate). See ``_remember_all``."""
        return self._remember_all([(memory, audio)])[0]

    def _remember_all(self, items: Sequence[tuple[Memory, Utterance | None]]
                      ) -> list[tuple[Memory | None, bool]]:
        """Store memories that arrive together (a typed turn and its reply, the pieces of an
        imported recording) in one add: one embedding call, one commit. Each keeps its
        recording if the ``keep_recordings`` setting is on; returns (memory, was_duplicate)
        for each, in order.

        A recording is removed again only when its memory is surely not stored (a duplicate
        of another one, or a write that did not commit): the recording of a stored memory is
        never deleted here.
        """
        clips: dict[str, Path] = {}
        for memory, audio in items:
            if audio is not None and self.settings.keep_recordings:
                clips[memory.id] = clip = self.home.audio_dir / f"{memory.id}.wav"
                save_utterance(audio, clip)
                memory.audio_path = clip.name
        try:
            result = self.store.add([memory for memory, _ in items])
        except BaseException:
            for memory_id, clip in clips.items():
                if self._surely_not_stored(memory_id):
                    clip.unlink(missing_ok=True)
                else:
                    log.warning("memory %s may be stored although storing it raised; its "
                                "recording is kept", memory_id)
            raise
        # A duplicate of itself is this very memory, stored by an earlier call.
        dropped = {d.memory.id for d in result.duplicates if d.existing_id != d.memory.id}
        for memory_id in dropped & clips.keys():
            clips[memory_id].unlink(missing_ok=True)
        return [(None, True) if m.id in dropped else (m, False) for m, _ in items]

    def remember_soon(self, memory: Memory, *, audio: Utterance | None = None) -> Future:
        """``_remember`` on the pipeline's writer thread, so a spoken turn is stored while its
        reply is already streaming; the future gives (memory, was_duplicate) or the error.

        Every read of the store that must see the turn (``search``, the next conversation)
        waits for the pending writes first (``wait_for_writes``)."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="persona-store")
            job = self._writer.submit(self._remember, memory, audio=audio)
            self._writes = [f for f in self._writes if not f.done()] + [job]
        return job

    def wait_for_writes(self) -> None:
        """Block until every ``remember_soon`` write has committed or failed (the turn that
        asked for it reports a failure)."""
        with self._lock:
            pending = list(self._writes)
        if pending:
            wait_futures(pending)

    def _surely_not_stored(self, memory_id: str) -> bool:
        """True only when the store says it has no memory ``memory_id`` (if the store cannot
        be read, the memory may be there: its recording is kept)."""
        from persona.core.errors import StoreError

        try:
            self.store.get(memory_id)
        except StoreError as exc:
            return exc.__cause__ is None  # "no memory has the id", not a failed read
        except Exception:  # noqa: BLE001 - any other failure: we cannot tell
            return False
        return False

    # ----------------------------------------------------------------- text memories
    def remember_text(self, text: str, *, source: str = "text") -> tuple[Memory | None, bool]:
        """Tag and store a typed note; returns (memory, was_duplicate)."""
        tag = self.tagger.tag(text)
        return self._remember(Memory(text=text.strip(), source=source, **_emotion_fields(tag)))

    def delete_memory(self, memory_id: str) -> Memory:
        """Forget one memory and its recording; unknown ids raise ``StoreError``."""
        return self.forget([memory_id])[0]

    def forget(self, memory_ids: Sequence[str]) -> list[Memory]:
        """Forget memories everywhere (``persona.core.memory.forget``: the store's files, recordings,
        the replies to them, logs, the induced profile); if any id is unknown, nothing is
        forgotten (``StoreError``). Later training runs never see them again."""
        return self.forget_report(memory_ids).forgotten

    def forget_report(self, memory_ids: Sequence[str]):
        """``forget`` returning the whole ``ForgetReport`` (what was removed where)."""
        from persona.core.memory.forget import forget_memories

        with self._lock:
            return forget_memories(self.home, self.store, list(memory_ids))

    def edit_memory(self, memory_id: str, text: str) -> Memory:
        """Change a memory's words (see ``MemoryStore.update_text``); returns the new memory."""
        return self.store.update_text(memory_id, text)

    def recording(self, memory: Memory) -> Path | None:
        """The memory's kept recording, or None when there is none (or it was removed)."""
        if not memory.audio_path:
            return None
        path = self.home.audio_dir / memory.audio_path
        return path if path.is_file() else None

    def ingest(self, paths: Sequence[str | Path], *,
               progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None):
        """Batch import of text, Markdown and audio files (see core.ingest); ``should_stop``
        is asked between files and before each batch is written."""
        from persona.core.ingest import ingest_paths

        return ingest_paths(self, [Path(p) for p in paths], progress=progress,
                            should_stop=should_stop)

    def search(self, query: str, *, k: int | None = None, mode: str = "hybrid",
               exclude_ids: Iterable[str] = ()) -> list[Hit]:
        """The person's own memories that best match ``query`` (the assistant's words are
        never evidence about the person)."""
        self.wait_for_writes()
        return self.store.search(query, k=k or self.settings.retrieval_k, mode=mode,
                                 speaker="person", exclude_ids=list(exclude_ids))

    def recall(self, query: str, *, k: int | None = None,
               exclude_ids: Iterable[str] = ()) -> list[Hit]:
        """The memories a reply is answered from: ``search`` without the person's own chat
        questions. A question tells nothing about the person, yet asked again it matched
        best, filled the prompt and was quoted back as the answer ("on Wednesday you wrote:
        'which instrument did I start learning again?'")."""
        k = k or self.settings.retrieval_k
        hits = self.search(query, k=k + 3, exclude_ids=exclude_ids)
        return [h for h in hits if not _asked(h.memory)][:k]

    # ----------------------------------------------------------------- replying
    def profile(self):
        from persona.core.persona.profile import load_profile

        return load_profile(self.home.profile_file)

    def induce_profile(self):
        """Fill the profile from every memory, keeping what the person wrote by hand;
        returns (profile, InductionReport)."""
        from persona.core.persona.induce import InductionOptions, induce_profile_file

        return induce_profile_file(self.store.all_memories(), self.home.profile_file,
                                   InductionOptions(audio_dir=self.home.audio_dir))

    def reply(self, question: str, *, emotion: EmotionTag | None = None,
              use_memory: bool = True, speak: bool = False, wav: Path | None = None,
              on_text: Callable[[str], None] | None = None, store_turns: bool = True,
              question_memory: Memory | None = None, conversation=None,
              timings: Timings | None = None, stop: threading.Event | None = None,
              silence: threading.Event | None = None, hits: list[Hit] | None = None,
              now: datetime | None = None, as_me: bool = False, best_of=None) -> Reply:
        """Answer ``question`` from the profile and the memories, streaming into speech.

        With ``speak`` or ``wav`` each sentence is synthesised as soon as it is complete, so
        the first audio starts before the whole reply exists. Setting ``stop`` (from any
        thread) ends generation and speech; the reply keeps the text produced so far. Setting
        ``silence`` ends only the speech: the text is still generated in full. Given ``hits``
        (the live turn's), they are not retrieved again and keep their order in the prompt.
        ``as_me``: answer as the person, in their voice (core/persona/as_me.py); such a reply
        is a rehearsal in their words, not a statement of fact, so the grounding gate is off.
        ``best_of``: choose among sampled replies with the reward model (core/prefs/hook.py;
        by default for typed questions not spoken, once the model beats chance).
        """
        from persona.core.conversation import Conversation

        question = question.strip()
        if not question:
            from persona.core.errors import TextError

            raise TextError("the question is empty; ask something.")
        t = timings if timings is not None else Timings()
        self.wait_for_writes()  # the conversation so far includes the last turn
        conv = conversation or Conversation.current(self.store,
                                                    max_turns=self.settings.history_turns)
        person_turn = question_memory
        turns: list[Memory] = []  # stored together after the reply, in one add
        if store_turns and person_turn is None:
            # A typed question: stored with the reply, off the path to the first word.
            person_turn = Memory(text=question, source="chat", speaker="person",
                                 conversation_id=conv.id,
                                 **_emotion_fields(emotion or self.tagger.tag(question)))
            turns.append(person_turn)
        try:
            exclude = [person_turn.id] if person_turn is not None else []
            keep_order = hits is not None
            if hits is None:
                with t.stage("retrieve"):
                    hits = self.recall(question, exclude_ids=exclude) if use_memory else []
            # "What is my cat's name, and what am I allergic to?": a small model answers the
            # first half only, so each part gets its own prompt over the same memories.
            from persona.core.persona.as_me import no_repeats
            from persona.core.persona.question import split_question

            parts = split_question(question) if use_memory and not as_me else [question]
            with t.stage("prompt"):
                prompts = [self.as_me_messages(question, hits, now=now)] if as_me else [
                    self.prompt_messages(part, hits, conv.history, emotion=emotion, now=now,
                                         keep_order=keep_order) for part in parts]
            messages = prompts[0]
            options = GenerationOptions(max_new_tokens=self.settings.max_new_tokens,
                                        temperature=self.settings.temperature)
            from persona.core.prefs.hook import best_of_for, model_stream

            best = best_of_for(self, best_of, typed=not keep_order and question_memory is None,
                               spoken=speak or wav is not None, stop=stop)
            start = time.perf_counter()
            first_token: list[float] = []
            raw: list[list[str]] = [[] for _ in parts]  # what the model said, part by part

            def tokens(i: int, gate) -> Iterator[str]:
                # Asked about something no memory mentions: say so at once, without the model.
                refusal = gate.focus.refusal() if gate is not None else None
                if refusal is not None:
                    first_token.append(time.perf_counter() - start)
                    raw[i].append(refusal)
                    yield refusal
                    return
                for piece in model_stream(self, prompts[i], options, best, parts[i]):
                    if stop is not None and stop.is_set():
                        break
                    if not first_token:
                        first_token.append(time.perf_counter() - start)
                    raw[i].append(piece)
                    yield piece

            def pieces() -> Iterator[str]:
                said = ""
                for i, part in enumerate(parts):
                    gate = None if as_me else self._grounding_gate(prompts[i], part)
                    stream = no_repeats(tokens(i, gate)) if as_me \
                        else self._gated(tokens(i, gate), gate)
                    for n, piece in enumerate(stream):
                        if stop is not None and stop.is_set():
                            return
                        if i and not n:  # "Ingrid" + "Tomas is..." -> "Ingrid. Tomas is..."
                            end = "" if not said.strip() or said.rstrip()[-1] in ".!?…\"" \
                                else "."
                            piece = end + " " + piece.lstrip()
                        said += piece
                        if on_text is not None:
                            on_text(piece)
                        yield piece
                if store_turns and not as_me and said.strip() and not (
                        stop is not None and stop.is_set()):
                    # The text is complete (its speech goes on): the next turn's start.
                    self.warm_next_turn(conv.then(question, said.strip()), now=now)

            out = Reply(question, "", hits, emotion, timings=t, messages=messages)
            out.parts = [(part, prompts[i], raw[i]) for i, part in enumerate(parts)]
            out.best_of = best.picks if best is not None else []
            with t.stage("reply"):
                if speak or wav is not None:
                    from persona.core.tts.streaming import SpeechStream

                    result = SpeechStream(self.speaker, wav_path=wav, play=speak,
                                          cancel_event=stop, silence_event=silence,
                                          presplit=self._gating()).run(pieces())
                    out.text, out.wav = result.text.strip(), result.wav_path
                    out.first_audio_s = result.first_audio_seconds
                    out.first_clause_s = next(iter(result.sentence_sent_seconds), None)
                    out.first_speech_s = min(result.sentence_ready_seconds, default=None)
                    if result.error is not None:
                        log.warning("speech failed: %s", result.error)
                else:
                    out.text = "".join(pieces()).strip()
        except BaseException:
            if turns:  # the question is kept even when no reply came
                try:
                    self._remember_all([(m, None) for m in turns])
                except Exception as exc:  # noqa: BLE001 - the reply's error is the one to see
                    log.warning("the question was not stored: %s", exc)
            raise
        out.first_token_s = first_token[0] if first_token else None
        if not as_me:  # a reply as the person is a rehearsal in their words, as for the gate
            with t.stage("claims"):  # after the last word is spoken: off the first audio's path
                out.unsupported = self.unsupported_claims(out)
        if store_turns and out.text:
            turns.append(Memory(text=out.text, source="chat", speaker="assistant",
                                conversation_id=conv.id))
        if turns:
            with t.stage("memory"):
                self._remember_all([(m, None) for m in turns])
        return out

    def warm_next_turn(self, conversation, *, now: datetime | None = None) -> Future | None:
        """With ``warm_between_turns``: read the start of the next turn's prompt — the system
        prompt and ``conversation``, the latest exchange in it — into the language model's
        cache on a thread of its own, while the reply is still being spoken and the person
        thinks. The next live turn then starts reading memories as soon as it has words,
        instead of reading the last exchange first (~60 tokens, ~0.5 s on 2 cores). Nothing
        waits for it: a turn that begins meanwhile queues behind it on the model's thread and
        finds it read; a failure is logged."""
        if not self.warm_between_turns:
            return None
        from persona.core.live_turn import prompt_start

        when = now or datetime.now(timezone.utc)
        messages = prompt_start(self, [], conversation.history, when)
        with self._lock:
            if self._warmer is None:
                self._warmer = ThreadPoolExecutor(1, thread_name_prefix="persona-warm")
            return self._warmer.submit(self._warm, messages)

    def _warm(self, messages: list[dict[str, str]]) -> None:
        try:
            self.llm.prefill(messages, open_end=True)
        except Exception as exc:  # noqa: BLE001 - the next turn reads it itself
            log.warning("reading the next turn's start failed: %s", exc)

    def unsupported_claims(self, reply: Reply) -> list:
        """The statements of ``reply`` that no memory supports (``claims.Claim``s): checked
        against what its prompts gave the model, then a fresh search per failing sentence.
        A failing check costs the flags only, never the reply."""
        if not reply.text:
            return []
        from persona.core.persona.claims import reply_claims
        from persona.core.persona.prompt import memory_line

        def search(sentence: str) -> list[str]:
            # Numbered as in the prompt, so the check reads each line's date the same way.
            return [f"{n}. {memory_line(h, 10_000)}"
                    for n, h in enumerate(self.recall(sentence, k=3), 1)]

        prompts = [p for _, p, _ in reply.parts] or [reply.messages]
        try:
            return reply_claims(reply.text, prompts, self.word_vectors, search=search,
                                person=self.profile().identity.name or "",
                                said=reply.question)
        except Exception as exc:  # noqa: BLE001 - flags are advice; the reply stands
            log.warning("the unsupported-claim check failed: %s", exc)
            return []

    def warm_focus(self, messages: list[dict[str, str]]) -> None:
        """Compute the word vectors the grounding gate may need for a reply to ``messages``
        (the memories' words, a few milliseconds each, cached): a live turn does it while
        the key is held, so the release does not wait for them."""
        if self._gating():
            from persona.core.persona.focus import given_units, vocabulary

            words = vocabulary(given_units(messages))
            if words:
                self.word_vectors(words)

    def _gating(self) -> bool:
        return bool(getattr(self.settings, "grounding_gate", True))

    def _grounding_gate(self, messages: list[dict[str, str]], question: str):
        """A SentenceGate over what the model is given, with the question's focus (None when
        the setting is off)."""
        if not self._gating():
            return None
        from persona.core.persona.grounding import SentenceGate
        from persona.core.tts.streaming import FIRST_CLAUSE_WORDS

        # Cut where speech cuts (the first clause too), so the gate adds no wait.
        return SentenceGate.for_messages(messages, question, self.word_vectors,
                                         person=self.profile().identity.name or "",
                                         first_clause_words=FIRST_CLAUSE_WORDS)

    @staticmethod
    def _gated(stream: Iterable[str], gate) -> Iterator[str]:
        """``stream`` through ``gate``: checked sentences only; generation stops (the stream
        is closed) at the first unsupported one, after the gate's honest line."""
        if gate is None:
            yield from stream
            return
        it = iter(stream)
        try:
            for piece in it:
                yield from gate.feed(piece)
                if gate.stopped:
                    # The count only: the words themselves are private text.
                    log.info("grounding gate: a sentence named %d specifics the model was "
                             "not given; the reply ends there", len(gate.blocked))
                    return
            yield from gate.flush()
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def prompt_messages(self, question: str, hits: list[Hit], history: list[dict[str, str]],
                        *, emotion: EmotionTag | None = None, now: datetime | None = None,
                        keep_order: bool = False, max_memories: int | None = None
                        ) -> list[dict[str, str]]:
        """The chat messages for ``question`` (``persona.core.persona.prompt``), the same for
        a plain reply and a live turn's prefill."""
        from persona.core.persona.prompt import PromptOptions, build_messages

        options = PromptOptions(history_turns=self.settings.history_turns,
                                keep_order=keep_order)
        if max_memories is not None:
            options.max_memories = max_memories
        elif keep_order:
            options.max_memories = max(options.max_memories, len(hits))
        return build_messages(self.profile(), hits, history, question, emotion=emotion,
                              now=now, options=options)

    def as_me_messages(self, question: str, hits: list[Hit], *, now: datetime | None = None
                       ) -> list[dict[str, str]]:
        """The messages for answering ``question`` as the person (core/persona/as_me.py)."""
        from persona.core.persona.as_me import as_me_messages, person_style

        if self._style is None:  # the person's style changes slowly: read once per pipeline
            self._style = person_style(self.store)
        return as_me_messages(self.profile(), hits, question, self._style, now=now)

    def voice_turn(self, utterance: Utterance | str | Path, *, speak: bool = False,
                   wav: Path | None = None, use_memory: bool = True,
                   on_heard: Callable[[Heard], None] | None = None,
                   on_text: Callable[[str], None] | None = None,
                   stop: threading.Event | None = None,
                   silence: threading.Event | None = None) -> tuple[Heard, Reply]:
        """One spoken question, end to end: hear it, answer it aloud, remember it.

        ``on_heard`` gets the transcript and emotion as soon as they exist (before the reply);
        ``on_text``, ``stop`` and ``silence`` are as in :meth:`reply`. This is a
        ``LiveTurn`` that was given no audio while the key was held (the app and
        ``persona listen`` feed theirs as it is recorded): the person's turn is stored beside
        the first words of the reply, and committed before this returns.
        """
        from persona.core.live_turn import LiveTurn

        return LiveTurn(self, use_memory=use_memory).finish(
            utterance, speak=speak, wav=wav, on_heard=on_heard, on_text=on_text, stop=stop,
            silence=silence)


def _asked(memory: Memory) -> bool:
    """A question the person asked in a conversation (typed or spoken)."""
    return memory.source == "chat" and memory.text.rstrip().endswith("?")


def _emotion_fields(tag: EmotionTag) -> dict:
    return {"emotion": tag.label, "valence": tag.valence, "arousal": tag.arousal,
            "emotion_confidence": tag.confidence}
