"""all-MiniLM-L6-v2's forward pass in numpy, for the few texts of a question's path.

Importing sentence-transformers (torch, transformers, sklearn) takes 3-5 s on 2 cores, more
than a whole cold ``persona ask`` may take. A query is a dozen tokens through 6 small BERT
layers: numpy does it in a few milliseconds with nothing heavier than ``tokenizers`` and
``safetensors`` to import. Batches (``persona ingest``) run here too (``encode_many``).

It computes what sentence-transformers computes for this model folder (modules.json:
Transformer -> mean Pooling -> Normalize): the tokenizer truncates at the folder's
``max_seq_length`` (sentence_bert_config.json; 256 for all-MiniLM-L6-v2, not the 128 its
tokenizer.json carries), the BERT encoder, the mean of the token vectors under the
attention mask, L2-normalised. ``tests/test_numpy_embed.py`` holds both to cosine >= 0.9999.

``NumpyBert.supports(folder)`` says whether a folder has that shape (a BERT with safetensors
weights, mean pooling, normalisation); any other embedding model goes through torch.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_POOLING = "sentence_transformers.models.Pooling"
MIN_BATCH = 8  # texts; smaller shares of a call are not worth a second worker
_NORMALIZE = "sentence_transformers.models.Normalize"
_TRANSFORMER = "sentence_transformers.models.Transformer"


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class NumpyBert:
    """A sentence-transformers BERT + mean pooling + normalize model, run in numpy."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = _read_json(folder / "config.json")
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        st_config = _read_json(folder / "sentence_bert_config.json") or {}
        self.max_length = int(st_config.get("max_seq_length")
                              or config.get("max_position_embeddings", 512))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # padded here, to the longest text of the call
        self.tokenizer.enable_truncation(self.max_length)
        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        self.w = w
        self.dim = int(w["embeddings.word_embeddings.weight"].shape[1])

    @staticmethod
    def supports(folder: Path) -> bool:
        """True when ``folder`` is a BERT sentence-transformers model this class computes
        exactly as sentence-transformers does."""
        folder = Path(folder)
        modules = _read_json(folder / "modules.json")
        config = _read_json(folder / "config.json")
        pooling = _read_json(folder / "1_Pooling" / "config.json")
        if not (isinstance(modules, list) and isinstance(config, dict)
                and isinstance(pooling, dict)):
            return False
        kinds = [m.get("type") for m in modules]
        only_mean = pooling.get("pooling_mode_mean_tokens") and not any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                     "pooling_mode_mean_sqrt_len_tokens",
                                     "pooling_mode_weightedmean_tokens",
                                     "pooling_mode_lasttoken"))
        return (kinds == [_TRANSFORMER, _POOLING, _NORMALIZE] and bool(only_mean)
                and config.get("model_type") == "bert"
                and config.get("hidden_act") == "gelu"
                and config.get("position_embedding_type", "absolute") == "absolute"
                and (folder / "model.safetensors").is_file()
                and (folder / "tokenizer.json").is_file())

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), hidden)`` float32 vectors of length 1, computed on one BLAS
        thread: OpenBLAS's idle threads spin, and with the other core busy a 12-token query
        took 0.03-1.6 s on two threads against 10-16 ms on one (measured here)."""
        with _one_blas_thread():
            return self._encode(self.tokenizer.encode_batch(texts))

    def encode_many(self, texts: list[str], *, batch_size: int = 64,
                    workers: int = 1) -> np.ndarray:
        """Like ``encode`` for many texts (an import): sorted by token count so each batch
        pads little, cut into batches of ``batch_size``, and the batches shared out over
        ``workers`` threads that each run single-threaded BLAS (numpy lets go of the GIL
        in matrix products and ufuncs). Independent workers keep both cores busy without
        the barrier waits of one multi-threaded product, which a busy machine stretches."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        enc = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(enc)), key=lambda i: len(enc[i].ids))
        # Every worker gets work even when the call is small (an import's first batches
        # are 16-64 texts): batches shrink to an even share, down to MIN_BATCH texts.
        size = max(1, min(batch_size, max(MIN_BATCH, -(-len(order) // max(1, workers)))))
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(batch: list[int]) -> None:
            out[batch] = self._encode([enc[i] for i in batch])

        with _one_blas_thread():
            if workers <= 1 or len(batches) == 1:
                for batch in batches:
                    run(batch)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(workers, len(batches)),
                                        thread_name_prefix="embed") as pool:
                    for done in [pool.submit(run, b) for b in batches]:
                        done.result()  # re-raises a worker's error here
        return out

    def _encode(self, enc: list) -> np.ndarray:
        n = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), n), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros((len(enc), n), dtype=np.float32)
        for i, e in enumerate(enc):
            ids[i, :len(e.ids)] = e.ids
            types[i, :len(e.ids)] = e.type_ids
            mask[i, :len(e.ids)] = 1.0
        hidden = self._forward(ids, types, mask)
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(
            mask.sum(axis=1, keepdims=True), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def _forward(self, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, n = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n][None]
             + w["embeddings.token_type_embeddings.weight"][types])
        # Token vectors as one (batch * n, hidden) matrix: each linear layer is then one
        # large BLAS product, not one small product per text (numpy's matmul of a 3-d array
        # loops over the first axis; this cut the forward's CPU time by a third).
        x = self._norm(x.reshape(batch * n, -1), "embeddings.LayerNorm")
        heads, size = self.heads, x.shape[-1] // self.heads
        # Padded keys get -inf-like scores, as HF's extended attention mask does.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(size))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(h, name, p=p):
                # A transposed view: BLAS reads it as it is, no copy of the weights.
                out = h @ w[p + name + ".weight"].T
                out += w[p + name + ".bias"]
                return out

            def split(h):
                return h.reshape(batch, n, heads, size).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * n, heads * size)
            h = lin(ctx, "attention.output.dense")
            h += x
            x = self._norm(h, p + "attention.output.LayerNorm")
            h = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            h += x
            x = self._norm(h, p + "output.LayerNorm")
        return x.reshape(batch, n, -1)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        """LayerNorm of the rows of ``x``, computed in place (``x`` is a temporary)."""
        x -= x.mean(axis=-1, keepdims=True)
        var = np.einsum("ij,ij->i", x, x)[:, None]
        var /= x.shape[-1]
        var += self.eps
        x /= np.sqrt(var, out=var)
        x *= self.w[name + ".weight"]
        x += self.w[name + ".bias"]
        return x


@functools.cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # scikit-learn brings it; without it numpy keeps its threads
        return None
    return ThreadpoolController()


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


GELU_ROWS = 128  # rows of the intermediate layer per GELU step (16-128 measured alike)


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), of the rows of ``x``, in place (``x`` is a temporary),
    a block of rows at a time: its dozen element-wise passes then stay mostly in the CPU's
    cache (the intermediate layer is the model's largest activation; 1,024 x 1,536 values
    took ~4 ms in blocks against ~5 ms whole, measured here)."""
    for start in range(0, x.shape[0], GELU_ROWS):
        _gelu_block(x[start:start + GELU_ROWS])
    return x


def _gelu_block(x: np.ndarray) -> None:
    """GELU in place, with erf from Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7,
    below float32's resolution of the result; numpy has no erf and scipy's import would
    cost more than the whole query)."""
    a = np.abs(x)
    a *= np.float32(1 / math.sqrt(2))  # |z|, z = x / sqrt(2)
    s = a * np.float32(0.3275911)
    s += 1
    np.reciprocal(s, out=s)
    poly = s * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= s
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|z|)
    np.subtract(1, poly, out=poly)  # erf(|z|)
    np.copysign(poly, x, out=poly)  # erf(z)
    poly += 1
    x *= poly
    x *= np.float32(0.5)
