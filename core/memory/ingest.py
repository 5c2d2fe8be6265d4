"""Import text notes and diaries (.txt, .md) into the memory store, in batches.

Files are decoded as strict UTF-8: a file in another encoding is refused with a message that
names it and says how to convert it, rather than imported with mangled letters. With many
files, a bad one is reported and skipped and the others still go in (``skip_bad=False``
makes any bad file stop the import before anything is stored). Audio files are not read
here: the pipeline transcribes them and stores the text itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from persona.core.errors import TextError
from persona.core.memory.batch import BATCH_SIZE, FIRST_BATCH, BatchWriter
from persona.core.memory.chunking import chunk_text
from persona.core.memory.schema import Memory

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
MARKDOWN_SUFFIXES = (".md", ".markdown")

Progress = Callable[[int, int], None]  # (done, total) memories


@dataclass
class FileError:
    path: str
    error: str


@dataclass
class IngestReport:
    files: int = 0  # files read and chunked
    chunks: int = 0  # memories cut from them
    stored: int = 0
    duplicates: int = 0  # already stored (or repeated), so skipped
    errors: list[FileError] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # of the stored memories
    cancelled: bool = False  # should_stop() ended the import early
    not_stored: list[str] = field(default_factory=list)  # files left out by the cancel


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of ``path``, decoded as strict UTF-8 (a byte-order mark is allowed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TextError(f"Cannot read {path} ({exc.strerror or exc}); check that it exists "
                        f"and that you may read it.") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise TextError(
            f"{path} is not UTF-8 text (byte 0x{bad:02x} at offset {exc.start}). Convert it "
            f"to UTF-8 first, for example `iconv -f WINDOWS-1252 -t UTF-8 \"{path}\" > "
            f"\"{path.with_suffix('.utf8' + path.suffix)}\"`, and import the converted "
            f"file.") from exc
    if "\x00" in text:
        raise TextError(f"{path} contains NUL bytes, so it is not a text file; export it as "
                        f"plain text (.txt) or Markdown (.md) and import that.")
    return text


def read_text_memories(path: str | os.PathLike[str], *, source: str = "import") -> list[Memory]:
    """The memories of one .txt/.md file: chunks of 1-3 sentences, dated by the file's date
    headings, with ``origin`` set to the file's path. Raises ``TextError`` for a file of
    another type, not UTF-8, or without any text."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise TextError(f"{path} is not a text note ({suffix or 'no extension'}); Persona "
                        f"imports {', '.join(TEXT_SUFFIXES)} files here.")
    chunks = chunk_text(read_text(path), markdown=suffix in MARKDOWN_SUFFIXES)
    if not chunks:
        raise TextError(f"{path} holds no text to remember (it is empty or only markup).")
    origin = str(path.resolve())
    out = []
    for c in chunks:
        m = Memory(text=c.text, source=source, origin=origin)
        if c.date is not None:
            m.ts = c.date
        out.append(m)
    return out


def text_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[FileError]]:
    """The text files named by ``paths`` (folders are walked, hidden entries skipped) and
    the paths that cannot be imported."""
    files: list[Path] = []
    errors: list[FileError] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif not p.exists():
            errors.append(FileError(str(p), "no such file or folder"))
        elif p.suffix.lower() in TEXT_SUFFIXES:
            files.append(p)
        else:
            errors.append(FileError(str(p), f"not a text note ({p.suffix or 'no extension'}); "
                                            f"use {', '.join(TEXT_SUFFIXES)}"))
    return files, errors


def ingest_text_files(store, paths: Iterable[str | os.PathLike[str]], *,
                      progress: Progress | None = None, skip_bad: bool = True,
                      annotate: Callable[[Memory], Memory] | None = None,
                      batch_size: int = BATCH_SIZE,
                      should_stop: Callable[[], bool] | None = None) -> IngestReport:
    """Read, chunk and store text files; returns what happened.

    Every file is read first, so the progress total (in memories) is known before the slow
    part, embedding, starts. ``annotate`` may fill in each memory before it is stored (the
    pipeline tags emotion there). The memories go in batches of whole files
    (``persona.core.memory.batch``), one commit each; the store is compacted once at the
    end. A bad file is reported in ``errors`` and skipped, unless ``skip_bad`` is false, in
    which case its ``TextError`` is raised before anything is stored. ``should_stop()`` is
    asked before each batch is written: once it says True the rest is not stored
    (``cancelled``; the files not stored are in ``not_stored``).
    """
    files, errors = text_files(paths)
    if errors and not skip_bad:
        raise TextError(f"{errors[0].path}: {errors[0].error}")
    report = IngestReport(errors=errors)
    read: list[tuple[Path, list[Memory]]] = []
    for path in files:
        try:
            read.append((path, read_text_memories(path)))
        except TextError as exc:
            if not skip_bad:
                raise
            report.errors.append(FileError(str(path), str(exc)))
    report.files = len(read)
    report.chunks = total = sum(len(m) for _, m in read)
    if progress is not None:
        progress(0, total)
    writer = BatchWriter(store, annotate=annotate, should_stop=should_stop,
                         on_commit=None if progress is None
                         else lambda out: progress(out.done, total),
                         first=min(FIRST_BATCH, batch_size), most=batch_size)
    for path, memories in read:
        writer.add(path, memories)
        if writer.outcome.cancelled:
            break
    out = writer.close()
    report.stored, report.duplicates, report.ids = out.stored, out.duplicates, out.ids
    report.errors += [FileError(str(f), why) for f, why in out.failed]
    report.cancelled = out.cancelled
    report.not_stored = [str(p) for p, _ in read if p not in out.finished()]
    return report
