"""Batch import of files into memory: text and Markdown notes, and audio recordings.

Text files are chunked by ``core.memory`` (dates in diary headings become the memories'
times), tagged, and stored in batches of whole files (``persona.core.memory.batch``); audio
files are transcribed, split at sentence ends into memory-sized pieces, and each piece is
tagged from its own slice of the recording. A bad file is reported and skipped; the others
still go in. Progress is reported in files; a cancelled import keeps what was committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from persona.core.asr.base import Transcript, Word
from persona.core.audio.io import SUFFIXES as AUDIO_SUFFIXES
from persona.core.audio.io import load_utterance
from persona.core.audio.utterance import Utterance
from persona.core.errors import PersonaError
from persona.core.memory.batch import BATCH_SIZE, FIRST_BATCH, BatchWriter
from persona.core.memory.ingest import TEXT_SUFFIXES, read_text_memories
from persona.core.memory.schema import Memory

MAX_CHUNK_CHARS = 400  # about three spoken sentences: one retrievable thought
PAD_SECONDS = 0.25  # audio kept around a chunk's words


@dataclass
class IngestSummary:
    files: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, what was wrong)
    imported: list[str] = field(default_factory=list)  # files read without error, in order
    stopped: bool = False  # should_stop() ended the import early
    skipped: int = 0  # files left out by the stop (not read, or read but not yet written)

    def describe(self) -> str:
        head = (f"Imported {self.files} file(s): {self.stored} memories stored, "
                f"{self.duplicates} duplicates skipped")
        if self.stopped:
            head = f"Stopped; {self.skipped} file(s) not imported. " + head
        if not self.errors:
            return head + "."
        return head + f", {len(self.errors)} file(s) failed:\n" + "\n".join(
            f"  {name}: {why}" for name, why in self.errors)

    def to_dict(self) -> dict:
        return {"files": self.files, "stored": self.stored, "duplicates": self.duplicates,
                "errors": [{"file": f, "error": e} for f, e in self.errors],
                "imported": self.imported, "stopped": self.stopped, "skipped": self.skipped}


def expand(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to import (folders walked, hidden files skipped) and the paths refused."""
    files, refused = [], []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and _importable(f)
                            and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif not p.exists():
            refused.append((str(p), "no such file or folder"))
        elif _importable(p):
            files.append(p)
        else:
            refused.append((str(p), f"unsupported file type {p.suffix or '(none)'!r}; Persona "
                            f"imports {', '.join(TEXT_SUFFIXES + AUDIO_SUFFIXES)} files"))
    return files, refused


def _importable(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES + AUDIO_SUFFIXES


def ingest_paths(pipe, paths: list[Path], *,
                 progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 batch_size: int = BATCH_SIZE) -> IngestSummary:
    """Import ``paths`` through ``pipe`` (a core.pipeline.Pipeline).

    Text files go into the store in batches of whole files (``persona.core.memory.batch``:
    one embedding call, one duplicate query and one commit per batch); audio files are
    transcribed and stored one by one. ``progress(done, total)`` counts files.
    ``should_stop()`` is asked before each file and before each batch is written; once it
    says True the import ends: every batch already committed stays, each file is in whole
    or not at all, and the summary says how many files were not imported.
    """
    files, refused = expand(paths)
    summary = IngestSummary(errors=list(refused))
    elsewhere: list[Path] = []  # done outside the batches: unreadable, or audio
    audio_in: set[Path] = set()

    def tick(out=None) -> None:
        if progress is not None:
            out = out or writer.outcome
            progress(len(elsewhere) + len(out.committed) + len(out.failed), len(files))

    writer = BatchWriter(pipe.store, annotate=lambda m: _tagged(pipe, m),
                         should_stop=should_stop, on_commit=tick,
                         first=min(FIRST_BATCH, batch_size), most=batch_size)
    stopped = False
    for path in files:
        if writer.outcome.cancelled or (should_stop is not None and should_stop()):
            stopped = True
            break
        try:
            if path.suffix.lower() in TEXT_SUFFIXES:
                writer.add(path, read_text_memories(path))
                continue
            stored, dupes = _ingest_audio(pipe, path)
            summary.stored += stored
            summary.duplicates += dupes
            audio_in.add(path)
        except PersonaError as exc:
            summary.errors.append((str(path), str(exc)))
        elsewhere.append(path)
        tick()
    out = writer.close(compact=bool(summary.stored) or None)
    summary.stored += out.stored
    summary.duplicates += out.duplicates
    summary.errors += [(str(f), why) for f, why in out.failed]
    done = audio_in | set(out.committed)
    summary.imported = [str(p) for p in files if p in done]
    summary.files = len(summary.imported)
    summary.stopped = stopped or out.cancelled
    if summary.stopped:
        finished = out.finished() | set(elsewhere)
        summary.skipped = sum(p not in finished for p in files)
    return summary


def _tagged(pipe, memory: Memory) -> Memory:
    tag = pipe.tagger.tag(memory.text)
    memory.emotion, memory.valence, memory.arousal = tag.label, tag.valence, tag.arousal
    memory.emotion_confidence = tag.confidence
    return memory


def _ingest_audio(pipe, path: Path) -> tuple[int, int]:
    utterance = load_utterance(path, limits=pipe.audio_limits)
    transcript = pipe.transcriber.transcribe(utterance)
    items = []
    for words in sentence_chunks(transcript.words, MAX_CHUNK_CHARS) or [transcript.words]:
        piece, sub = _slice(utterance, transcript, words)
        tag = pipe.tagger.tag(sub.text, piece, sub)
        items.append((Memory(text=sub.text, source="import", origin=str(path),
                             emotion=tag.label, valence=tag.valence, arousal=tag.arousal,
                             emotion_confidence=tag.confidence), piece))
    results = pipe._remember_all(items)  # the file's pieces in one add: whole or not at all
    return sum(kept is not None for kept, _ in results), sum(dup for _, dup in results)


def sentence_chunks(words: list[Word], max_chars: int) -> list[list[Word]]:
    """Group words into runs of whole sentences of at most ``max_chars`` characters
    (a single longer sentence becomes its own chunk)."""
    chunks: list[list[Word]] = []
    current: list[Word] = []
    sentence: list[Word] = []
    for w in words:
        sentence.append(w)
        if w.word.strip().endswith((".", "!", "?")):
            if current and _chars(current + sentence) > max_chars:
                chunks.append(current)
                current = []
            current += sentence
            sentence = []
    if sentence:
        if current and _chars(current + sentence) > max_chars:
            chunks.append(current)
            current = []
        current += sentence
    if current:
        chunks.append(current)
    return chunks


def _chars(words: list[Word]) -> int:
    return sum(len(w.word) for w in words)


def _slice(utt: Utterance, transcript: Transcript, words: list[Word]
           ) -> tuple[Utterance, Transcript]:
    start = max(0.0, words[0].start - PAD_SECONDS)
    end = min(utt.duration, words[-1].end + PAD_SECONDS)
    a, b = int(start * utt.sample_rate), int(end * utt.sample_rate)
    piece = Utterance(utt.audio[a:b], utt.sample_rate, source="file", path=utt.path)
    shifted = [Word(w.word, w.start - start, w.end - start, w.probability) for w in words]
    text = "".join(w.word for w in words).strip()
    return piece, Transcript(text=text, words=shifted, language=transcript.language,
                             duration=end - start, speech_duration=end - start)
