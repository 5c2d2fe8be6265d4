"""The GGUF header reader (core/models/gguf_header.py) against gguf-py's own GGUFReader:
the same metadata and tensor shapes, on a file written by gguf's GGUFWriter and on the real
SmolLM2 GGUF, and a clear error for what is not a GGUF header."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from persona.core.models.gguf_header import MAX_NUMERIC_ARRAY, HeaderError, read_header
from tests.core.models.conftest import write_gguf


def _reference(path) -> tuple[dict, dict]:
    """(metadata, shapes) as gguf-py reads them, arrays of strings and long arrays left out
    as read_header leaves them out."""
    reader = GGUFReader(str(path))
    meta = {}
    for key, f in reader.fields.items():
        if key.startswith("GGUF."):  # the reader's own entries for the file's counts
            continue
        value = f.contents()
        if isinstance(value, list) and (len(value) > MAX_NUMERIC_ARRAY
                                        or any(isinstance(v, str) for v in value)):
            continue
        meta[key] = value
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    return meta, shapes


def _same(meta: dict, ref: dict) -> bool:
    return meta.keys() == ref.keys() and all(
        meta[k] == pytest.approx(v) if isinstance(v, float | list) and not
        isinstance(v, str) else meta[k] == v for k, v in ref.items())


def test_a_written_gguf_reads_as_gguf_reads_it(tmp_path):
    path = tmp_path / "m.gguf"
    w = GGUFWriter(str(path), "llama")
    w.add_name("Tiny")
    w.add_block_count(2)
    w.add_head_count([4, 2])  # a count per layer: kept
    w.add_rope_freq_base(10000.0)
    w.add_chat_template("{{ messages }}")
    w.add_token_list([f"tok{i}" for i in range(5000)])  # strings: skipped
    w.add_token_scores([float(i) for i in range(5000)])  # long: skipped
    w.add_tensor("token_embd.weight", np.zeros((12, 8), np.float32))
    w.add_tensor("output.weight", np.zeros((3, 4, 5), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    header = read_header(path)
    meta, shapes = _reference(path)
    assert _same(header.metadata, meta)
    assert header.metadata["llama.attention.head_count"] == [4, 2]
    assert "tokenizer.ggml.tokens" not in header.metadata
    assert header.tensors == shapes == {"token_embd.weight": (8, 12),  # ggml's order
                                        "output.weight": (5, 4, 3)}
    assert header.params == 12 * 8 + 3 * 4 * 5


def test_the_real_model_reads_as_gguf_reads_it():
    from persona.core.llm.models import model_gguf
    from persona.core.paths import Home
    from persona.core.settings import Settings

    path = model_gguf(Settings(llm="smollm2-135m"), Home.resolve())
    header = read_header(path)
    meta, shapes = _reference(path)
    assert _same(header.metadata, meta) and header.tensors == shapes
    assert header.metadata["general.architecture"] == "llama"
    assert 100e6 < header.params < 200e6


@pytest.mark.parametrize("damage", ["empty", "not gguf", "cut in the metadata",
                                    "cut in the tensors", "huge count"])
def test_what_is_not_a_whole_header_is_a_header_error(tmp_path, damage):
    good = write_gguf(tmp_path / "good.gguf").read_bytes()
    header_end = good.index(b"token_embd.weight") + 20
    data = {"empty": b"", "not gguf": b"PK\x03\x04" + good[4:],
            "cut in the metadata": good[:60],
            "cut in the tensors": good[:header_end],
            "huge count": good[:8] + (2**62).to_bytes(8, "little") + good[16:]}[damage]
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(HeaderError):
        read_header(path)
