"""Sentence embeddings for memories: all-MiniLM-L6-v2 (384-d) from a local folder.

The model's numpy form (``numpy_embed.py``) embeds everything when the folder has its shape
(the bundled model does): a few texts (a question, a spoken turn) in a few ms with no torch
import, and batches (an import) sorted by length and shared out over one worker per core.
Other model folders go through sentence-transformers on torch. Both give the same vectors
(cosine >= 0.9999). Measured on 1,000 short notes, 2 cores (benchmarks/bench_ingest.py):
numpy used less CPU than sentence-transformers, and an import never pays torch's 3-5 s
import.

The model loads on first use (a command that only lists memories never pays for it), once,
even when several threads ask at the same time. Vectors are L2-normalised float32, so cosine
similarity is a dot product and LanceDB's cosine distance is ``1 - similarity``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from persona.core.bundled import model_path
from persona.core.errors import ModelError, TextError

log = logging.getLogger(__name__)

# Measured on 2 cores: 64 is as fast as 128 and keeps the padding waste of mixed lengths low.
DEFAULT_BATCH_SIZE = 64
# Up to this many texts (a query, one voice note) run on one torch thread: the matrices are
# too small to share, and when another process holds a core the second thread's barrier
# waits turn a 40 ms query into 300-900 ms (measured on a busy 2-core machine).
SMALL_INPUT = 8
# What embeds more than SMALL_INPUT texts when the model has a numpy form ("numpy": chosen
# by benchmarks/bench_ingest.py; "torch" kept for the side-by-side rows).
BATCH_BACKENDS = ("numpy", "torch")


def usable_cores() -> int:
    """CPU cores this process may run on (respects taskset and container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def batch_workers() -> int:
    """Workers for a numpy batch: one per usable core, but no more than ``OMP_NUM_THREADS``
    when it is set (the nightly job's ``lower_priority`` sets it to leave the person a core;
    a person may set it to cap math threads)."""
    cores = usable_cores()
    try:
        cap = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return cores
    return max(1, min(cores, cap))


class Embedder:
    """Turns texts into normalised float32 vectors with a sentence-transformers model.

    ``model`` is a local folder; ``None`` means the bundled all-MiniLM-L6-v2. ``threads``
    caps the numpy batches' workers (``None``: ``batch_workers()``) and torch's intra-op
    threads (process-wide; ``None`` keeps torch's choice unless it exceeds the cores this
    process may use, because oversubscribed threads spin and run several times slower on a
    small machine). ``batches="torch"`` sends batches through sentence-transformers even
    when the model has a numpy form (the benchmark's side-by-side rows).
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, *,
                 batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None,
                 batches: str = "numpy") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if batches not in BATCH_BACKENDS:
            raise ValueError(f"batches must be one of {', '.join(BATCH_BACKENDS)}, "
                             f"not {batches!r}")
        self.path: Path = model_path("embed", str(model) if model else None)
        self.batch_size = batch_size
        self.threads = threads
        self.batches = batches  # "torch": batches through sentence-transformers (benchmark)
        self._model = None
        self._numpy = None  # NumpyBert, for the few texts of a question's path
        self._numpy_ok: bool | None = None  # None: not checked yet
        self._load_lock = threading.Lock()
        # One encode at a time: two concurrent encodes on 2 cores only fight for them.
        self._encode_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> Embedder:
        """The embedder named by ``settings.embed_model`` (None = the bundled model)."""
        return cls(settings.embed_model)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        """Load the model now (idempotent, thread-safe); returns the SentenceTransformer."""
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self):
        import torch
        from sentence_transformers import SentenceTransformer

        cores = usable_cores()
        if self.threads is not None:
            torch.set_num_threads(max(1, self.threads))
        elif torch.get_num_threads() > cores:
            torch.set_num_threads(cores)
        try:
            # A folder path with local_files_only never touches the hub (HF_HUB_OFFLINE is
            # also set by core/__init__.py).
            model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True,
                                        trust_remote_code=False)
        except Exception as exc:  # a broken folder fails in many library-specific ways
            raise ModelError(
                f"Cannot load the embedding model from {self.path} ({exc}); point the "
                f"'embed_model' setting at a sentence-transformers folder, or remove it to "
                f"use the bundled all-MiniLM-L6-v2.") from exc
        model.eval()
        log.info("embedding model %s loaded (%d-d, %d torch threads)", self.path,
                 _dimension(model), torch.get_num_threads())
        return model

    @property
    def dim(self) -> int:
        """Length of the vectors (loads a model)."""
        small = self._small_model()
        return small.dim if small is not None else _dimension(self.load())

    def prepare_first_use(self) -> None:
        """Load what encodes one question (the numpy model, else torch's), so that a cold
        command's first search does not wait for it (Pipeline.preload)."""
        if self._small_model() is None:
            self.load()

    def _small_model(self):
        """The numpy form of the model (``numpy_embed.NumpyBert``) when the folder has the
        shape it computes exactly, else None (then torch embeds everything)."""
        if self._numpy_ok is None:
            with self._load_lock:
                if self._numpy_ok is None:
                    from persona.core.memory.numpy_embed import NumpyBert

                    ok = NumpyBert.supports(self.path)
                    if ok:
                        try:
                            self._numpy = NumpyBert(self.path)
                        except Exception as exc:  # noqa: BLE001 - torch still works
                            log.warning("embedding %s in numpy failed (%s); using torch",
                                        self.path, exc)
                            ok = False
                    self._numpy_ok = ok
        return self._numpy

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` as a ``(len(texts), dim)`` float32 array, each of length 1.

        Empty or whitespace-only texts raise ``TextError`` (they have no meaning to embed).
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts; use encode_query() for one")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise TextError(f"text #{i} is empty ({t!r}); there is nothing to embed.")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        few = len(texts) <= SMALL_INPUT
        small = self._small_model() if few or self.batches == "numpy" else None
        if small is not None:
            # No torch import (3-5 s cold); a question takes a few milliseconds warm. The
            # vectors match torch's (cosine >= 0.9999).
            with self._encode_lock:
                vectors = (small.encode(texts) if few else small.encode_many(
                    texts, batch_size=self.batch_size,
                    workers=self.threads or batch_workers()))
            return np.ascontiguousarray(vectors, dtype=np.float32)
        model = self.load()
        with self._encode_lock, _torch_threads(1 if len(texts) <= SMALL_INPUT else None):
            vectors = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one text, shape ``(dim,)``."""
        return self.encode([text])[0]


def _dimension(model) -> int:
    # sentence-transformers 6 renamed the method; older versions only have the long name.
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (None: unchanged), then restore the count.
    The setting is process-wide; it is only changed for the few milliseconds of a small
    encode, under the encode lock."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
