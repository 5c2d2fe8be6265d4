"""Memory speed: hybrid retrieval latency at 10k and 100k memories, and ingest throughput.

    python -m benchmarks.bench_memory            # full (first run embeds 100k texts: long)
    python -m benchmarks.bench_memory --quick    # smoke run on 300 memories

The memories are real text: runs of 1-5 consecutive lines of tinyshakespeare, so lengths
vary from a few words to a short paragraph. Their vectors come from the real bundled
embedder and are cached under benchmarks/.cache/memory/, so reruns only rebuild the LanceDB
table (through ``MemoryStore.add``, in import-sized batches). Query latency always includes
embedding the query with the real model; the search-only part is reported too. Ingest
throughput embeds fresh texts for real, through ``add()``.
"""

from __future__ import annotations

import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import corpus_text
from benchmarks.table import Row, format_table
from persona.core.memory.embed import Embedder
from persona.core.memory.schema import Memory
from persona.core.memory.store import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache" / "memory"

P50_TARGET_MS = 50.0  # hybrid top-5 at 100k, query embedding included
INGEST_TARGET = 300.0  # memories per second through add(), real embeddings

QUERIES = [
    "what did the king say about his crown", "a mother grieving for her dead son",
    "letters from a lover", "when will the army march to battle", "the duke is dead",
    "sweet music in the night", "I am afraid of my husband", "poison in the cup",
    "a storm at sea and a shipwreck", "banished from the city", "the people are starving",
    "who will marry the princess", "swear an oath of revenge", "a ghost walks at midnight",
    "the fool makes a joke", "money owed to the merchant", "a prisoner in the tower",
    "forgive me, father", "the queen weeps", "horses and soldiers at dawn",
    "is this a dagger", "my honour is lost", "a wedding feast", "cold winter wind",
    "the crown is heavy", "traitors in the court", "a kiss before parting",
    "flowers in the garden", "drink and be merry", "the moon and the stars",
    "bury the dead with honour", "a letter from Rome", "sleep, gentle sleep",
    "the price of corn", "young love is foolish", "an old man remembers his youth",
    "the sword and the shield", "pray for peace", "a brother's betrayal",
    "wake up, the enemy is here",
]


def corpus_texts(n: int | None = None) -> list[str]:
    """``n`` distinct memories (all when None): runs of 1-5 consecutive corpus lines, in a
    fixed shuffle, so a smaller set is always a prefix of a bigger one."""
    lines = [s.strip() for s in corpus_text().splitlines()]
    lines = [s for s in lines if s and not s.endswith(":")]  # drop speaker names
    seen, texts = set(), []
    for k in (1, 2, 3, 4, 5):
        for i in range(0, len(lines) - k + 1):
            t = " ".join(lines[i:i + k])
            if t.casefold() not in seen:
                seen.add(t.casefold())
                texts.append(t)
    random.Random(0).shuffle(texts)
    if n is not None and n > len(texts):
        raise ValueError(f"the corpus has only {len(texts)} distinct memories, not {n}")
    return texts if n is None else texts[:n]


def _model_key(embedder: Embedder) -> str:
    weights = next(embedder.path.glob("*.safetensors"), embedder.path)
    return hashlib.sha1(f"{embedder.path}:{weights.stat().st_size}".encode()).hexdigest()[:10]


PART = 2000  # vectors per cache file


def cached_vectors(embedder: Embedder, n: int, log=print) -> tuple[list[str], np.ndarray]:
    """The first ``n`` corpus memories and their real vectors, embedded once per part of
    2000 and cached on disk (an interrupted run resumes where it stopped)."""
    everything = corpus_texts()
    order = hashlib.sha1("\n".join(everything).encode()).hexdigest()[:10]
    folder = CACHE / f"vectors-{_model_key(embedder)}-{order}"
    folder.mkdir(parents=True, exist_ok=True)
    if n < PART and not (folder / "part-0000.npy").exists():  # a smoke run: no cache needed
        return everything[:n], embedder.encode(everything[:n])
    parts, start, computed = [], time.perf_counter(), 0
    for i in range(0, n, PART):
        path = folder / f"part-{i // PART:04d}.npy"
        if not path.exists():
            vectors = embedder.encode(everything[i:i + PART])
            np.save(path.with_suffix(".tmp.npy"), vectors)
            path.with_suffix(".tmp.npy").replace(path)  # a crash never leaves half a part
            computed += len(vectors)
            log(f"  embedded {min(i + PART, n)}/{n} "
                f"({computed / (time.perf_counter() - start):.0f}/s)")
        parts.append(np.load(path))
    return everything[:n], np.concatenate(parts)[:n]


class CachedEmbedder:
    """The real embedder, with the corpus vectors it computed earlier looked up instead of
    recomputed (queries and unknown texts are embedded for real)."""

    def __init__(self, real: Embedder, texts: list[str], vectors: np.ndarray) -> None:
        self.real, self.path = real, real.path
        self.lookup = dict(zip(texts, vectors, strict=True))

    def encode(self, texts):
        if all(t in self.lookup for t in texts):
            return np.stack([self.lookup[t] for t in texts])
        return self.real.encode(texts)

    def encode_query(self, text):
        return self.real.encode_query(text)


def build_store(folder: Path, embedder: CachedEmbedder, texts: list[str]) -> float:
    """Fill a store with ``texts`` through add() in import-sized batches; returns seconds."""
    store = MemoryStore(folder, embedder)
    start = time.perf_counter()
    for i in range(0, len(texts), 5000):
        store.add([Memory(t, source="import") for t in texts[i:i + 5000]], compact=False)
    store.compact()
    return time.perf_counter() - start


def _ms(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1000.0
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def time_queries(store: MemoryStore, queries: list[str], mode: str, k: int = 5):
    """(total, search-only) seconds per query; the first 3 queries only warm up."""
    total, search_only = [], []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        store.embedder.encode_query(q)
        t1 = time.perf_counter()
        store.search(q, k, mode=mode)
        t2 = time.perf_counter()
        if i >= 3:
            # search() embeds the query itself: total = one search; search-only = minus embed.
            total.append(t2 - t1)
            embed = 0.0 if mode == "fts" else t1 - t0
            search_only.append(max(0.0, (t2 - t1) - embed))
    return total, search_only


def vector_index_rows(store: MemoryStore, queries: list[str], n: int) -> list[Row]:
    """Flat scan vs the IVF_FLAT index the store built: latency and recall@5."""
    tbl = store.table
    vecs = [store.embedder.encode_query(q) for q in queries]
    flat, ivf, recall = [], [], []
    for v in vecs:
        t0 = time.perf_counter()
        a = (tbl.search(v).distance_type("cosine").bypass_vector_index().limit(5)
             .select(["id", "_distance"]).to_arrow())
        t1 = time.perf_counter()
        b = tbl.search(v).distance_type("cosine").limit(5).select(["id", "_distance"]).to_arrow()
        t2 = time.perf_counter()
        flat.append(t1 - t0)
        ivf.append(t2 - t1)
        recall.append(len(set(a["id"].to_pylist()) & set(b["id"].to_pylist())) / 5)
    has_index = any(i.columns == ["vector"] for i in tbl.list_indices())
    rows = [Row("memory", f"vector top-5 search p50 @{n // 1000}k, flat scan",
                f"{_ms(flat)[0]:.1f} ms")]
    if has_index:
        rows += [Row("memory", f"vector top-5 search p50 @{n // 1000}k, IVF_FLAT index",
                     f"{_ms(ivf)[0]:.1f} ms"),
                 Row("memory", f"IVF_FLAT recall@5 vs flat @{n // 1000}k",
                     f"{np.mean(recall):.3f}")]
    return rows


def retrieval_rows(real: Embedder, n: int, queries: list[str], *, log=print) -> list[Row]:
    texts, vectors = cached_vectors(real, n, log=log)
    embedder = CachedEmbedder(real, texts, vectors)
    label = f"@{n // 1000}k" if n >= 1000 else f"@{n}"
    with tempfile.TemporaryDirectory(prefix="persona-bench-memory-") as tmp:
        build_s = build_store(Path(tmp) / "memory.lancedb", embedder, texts)
        store = MemoryStore(Path(tmp) / "memory.lancedb", embedder)
        rows = [Row("memory", f"build store {label} from cached vectors (add + compact)",
                    f"{build_s:.1f} s")]
        for mode in ("hybrid", "vector", "fts"):
            total, search_only = time_queries(store, queries, mode)
            p50, p95 = _ms(total)
            target = f"<= {P50_TARGET_MS:.0f} ms" if mode == "hybrid" and n >= 100_000 else ""
            what = "words only, no embedding" if mode == "fts" else "incl. query embedding"
            rows.append(Row("memory", f"{mode} top-5 p50 {label} ({what})", f"{p50:.1f} ms",
                            target, (p50 <= P50_TARGET_MS) if target else None))
            rows.append(Row("memory", f"{mode} top-5 p95 {label} ({what})", f"{p95:.1f} ms"))
            if mode == "hybrid":
                rows.append(Row("memory", f"hybrid top-5 p50 {label}, search only",
                                f"{_ms(search_only)[0]:.1f} ms"))
        rows += vector_index_rows(store, queries, n)
        # Push-to-talk on a big store: one memory per add(), dedupe check and commit
        # included, compaction whenever it falls due.
        singles = []
        for i in range(20):
            t0 = time.perf_counter()
            store.add(Memory(f"Voice note {i}: remember to buy bread and call Ana."))
            singles.append(time.perf_counter() - t0)
        rows.append(Row("memory", f"single add() p50 {label} (real embedding)",
                        f"{_ms(singles)[0]:.1f} ms"))
        t0 = time.perf_counter()
        store.compact()
        rows.append(Row("memory", f"compact() {label}", f"{time.perf_counter() - t0:.2f} s"))
        rows.append(Row("memory", f"table versions kept {label}", str(store.versions())))
    return rows


def ingest_rows(real: Embedder, n: int, *, short: bool = False) -> list[Row]:
    """Memories per second through add() with real embeddings, import-sized batches.
    ``short`` uses single corpus lines (~30 chars) instead of the usual 1-5 line runs."""
    pool = [t for t in corpus_texts() if len(t) <= 45] if short else corpus_texts(n)
    texts = [f"{t} ({i})" for i, t in enumerate(pool[:n])]  # never in any cache
    chars = sum(map(len, texts)) / len(texts)
    with tempfile.TemporaryDirectory(prefix="persona-bench-ingest-") as tmp:
        store = MemoryStore(Path(tmp) / "memory.lancedb", real)
        store.add(Memory("warm up the table and the model"))
        start = time.perf_counter()
        for i in range(0, n, 256):
            store.add([Memory(t, source="import") for t in texts[i:i + 256]], compact=False)
        store.compact()
        seconds = time.perf_counter() - start
    rate = n / seconds
    return [Row("memory", f"ingest throughput, add() of {n} memories of ~{chars:.0f} chars, "
                f"batches of 256", f"{rate:.0f} memories/s", f">= {INGEST_TARGET:.0f}/s",
                rate >= INGEST_TARGET)]


def run(quick: bool = False) -> list[Row]:
    real = Embedder()
    real.load()
    real.encode_query("warm up")
    log = (lambda *a: None) if quick else (lambda *a: print(*a, file=sys.stderr))
    if quick:
        # Small enough to finish in well under a minute on a busy machine with no cache.
        return retrieval_rows(real, 300, QUERIES[:12], log=log) + ingest_rows(real, 64)
    rows = ingest_rows(real, 3000) + ingest_rows(real, 2000, short=True)
    for n in (10_000, 100_000):
        rows += retrieval_rows(real, n, QUERIES, log=log)
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
