"""A faster copy of a language model for llama.cpp: the model file requantized to Q4_0.

llama.cpp's CPU backend repacks Q4_0 weights into its interleaved AVX2/AVX-512 (and ARM
dot-product) layouts when it loads them, and runs those faster than the K-quants the
catalog's Qwen files ship in. Measured on the 2-vCPU Xeon (RESULTS.md, tenth latency round):
the Qwen 0.5B Q4_K_M file requantized to Q4_0 reads a prompt at 175–197 tokens/s against
113–141 and decodes at 28–31 against 23–25, with the same grounded accuracy within a
question (main set 60/66 and 11/15 against 60/66 and 12/15; held-out set 11/12 and 10/12
against 10/12 and 10/12). The price: it predicts text a little worse (the sample diary's
perplexity 16.94 against 16.07), and the person's adapter brings both to the same place.

The copy is made once per machine with llama.cpp's own quantizer (about 10 s for the 0.5B),
in the per-user model cache beside the file it comes from, keyed by that file's sha256:

    models/derived/<source sha256>.<type>.gguf         the copy (0600)
    models/derived/<source sha256>.<type>.gguf.sha256  its own sha256, written after it

The copy is made in a temporary file, synced, hashed and renamed into place under the
source's lock, so two processes never make it at once and a crash leaves no half file.
Later starts trust it by size and modification time (``cache.is_verified``); a copy that no
longer matches its recorded hash is made again (it is derived data: nothing is lost).
Only the catalog's own models name a runtime type (``ModelSpec.runtime_quant``): each was
checked on the grounded questions; an imported file runs as the person gave it. Training
never reads the copy: torch trains on the float32 conversion of the pinned file, and the
adapter applies to either (same architecture and tensor names).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from persona.core.atomic import atomic_write_text
from persona.core.errors import ModelError
from persona.core.models import cache
from persona.core.models.cache import Progress

log = logging.getLogger(__name__)

# llama_ftype values (llama.h) of the types a runtime copy may have.
FTYPES = {"Q4_0": 2}


def derived_path(source_sha256: str, quant: str) -> Path:
    return cache.models_cache() / "derived" / f"{source_sha256}.{quant.lower()}.gguf"


def runtime_note(spec, settings) -> str | None:
    """In words, what llama.cpp runs of the catalog model ``spec`` under ``settings`` (None:
    the file itself, nothing to say); `persona models info` and the app's model cards."""
    if not spec.runtime_quant:
        return None
    if not settings.llm_requantize:
        return (f"llama.cpp runs the file as it is (llm_requantize is off; a "
                f"{spec.runtime_quant} copy would be faster)")
    path = derived_path(spec.sha256, spec.runtime_quant)
    if not path.is_file():
        return (f"llama.cpp runs a faster {spec.runtime_quant} copy of it, made on first use "
                "(once, about 10 s)")
    return f"llama.cpp runs a faster {spec.runtime_quant} copy of it, made once: {path}"


def _recorded(dest: Path) -> str | None:
    try:
        text = dest.with_name(dest.name + ".sha256").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 else None


def _ready(dest: Path) -> bool:
    """Whether ``dest`` is a finished copy: present, with a recorded hash it still has."""
    sha = _recorded(dest)
    if sha is None or not dest.is_file():
        return False
    if cache.is_verified(dest, sha):
        return True
    if cache.sha256_of(dest) == sha:  # e.g. the cache was copied: same bytes, new mtime
        cache.record_verified(dest, sha)
        return True
    log.warning("The runtime copy %s no longer matches its recorded sha256; making it again.",
                dest)
    return False


def runtime_copy(source: Path, source_sha256: str, quant: str,
                 progress: Progress | None = None, threads: int | None = None) -> Path:
    """The ``quant`` copy of the GGUF ``source`` (whose sha256 is ``source_sha256``), made
    once in the model cache; ModelError when llama.cpp cannot make it."""
    if quant not in FTYPES:
        raise ModelError(f"A runtime copy of type {quant!r} is not supported (only "
                         f"{', '.join(FTYPES)}).")
    dest = derived_path(source_sha256, quant)
    if _ready(dest):
        return dest
    with cache.model_lock(source_sha256):
        if _ready(dest):  # another process made it while we waited
            return dest
        if progress:
            progress(f"Making a faster {quant} copy of the model for this computer (once, "
                     "about 10 s)…")
        _quantize(source, dest, FTYPES[quant], threads or os.cpu_count() or 1)
        return dest


def _quantize(source: Path, dest: Path, ftype: int, threads: int) -> None:
    import llama_cpp

    from persona.core.llm.llama_log import route

    route()  # llama.cpp's per-tensor lines go to logging, not the terminal
    folder = cache.private_dir(dest.parent)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.nthread = threads
        params.allow_requantize = True  # the source is already quantized (Q4_K_M)
        rc = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params)
        if rc != 0:
            raise ModelError(f"llama.cpp could not make a runtime copy of {source} (error "
                             f"{rc}); set llm_requantize to false to run the file as it is.")
        os.chmod(tmp, 0o600)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        sha = cache.sha256_of(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    atomic_write_text(dest.with_name(dest.name + ".sha256"), sha + "\n")
    cache.record_verified(dest, sha)
    log.info("Made the runtime copy %s (%d MB) of %s.", dest.name, dest.stat().st_size >> 20,
             source.name)
