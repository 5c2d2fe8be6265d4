"""The file (GGUF) or folder (Whisper) of a catalog model, ready to load.

A model carried by one package file is used where pip put it (memory-mapped in place, no
copy); a model split over several packages is joined once into the per-user cache. Either
way the sha256 is checked on first use and the check is remembered (``cache.verify``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from persona.core.errors import ModelError
from persona.core.models import cache
from persona.core.models.cache import Progress
from persona.core.models.catalog import ModelSpec, get_model, package_file


def _fix(spec: ModelSpec) -> str:
    return spec.install_hint().replace("install it", "reinstall it", 1)


def llm_file(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """The GGUF of the language model ``spec``, joined and verified on first use."""
    if spec.role != "llm":
        raise ModelError(f"{spec.name} is a speech-to-text model, not a language model; "
                         "choose one from `persona models list`.")
    if spec.imported:
        path = cache.imported_file(spec)
        if not path.is_file():
            raise ModelError(f"The imported model {spec.name} is no longer in the cache "
                             f"({path}); {spec.install_hint()}.")
        return cache.verify(path, spec.sha256, spec.install_hint(), progress)
    parts = spec.part_paths()
    if len(parts) == 1:
        return cache.verify(parts[0], spec.sha256, _fix(spec), progress)
    dest = cache.gguf_path(spec.sha256)
    if dest.is_file() and cache.is_verified(dest, spec.sha256):
        return dest
    return cache.join_parts(parts, dest, spec.sha256, _fix(spec), progress)


def asr_folder(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """The CTranslate2 Whisper folder of ``spec`` (model.bin, config, tokenizer, vocabulary)."""
    if spec.role != "asr":
        raise ModelError(f"{spec.name} is a language model, not a speech-to-text model; "
                         "choose one from `persona models list`.")
    parts = spec.part_paths()
    if len(parts) == 1:  # the package holds the whole folder: use it in place
        cache.verify(parts[0], spec.sha256, _fix(spec), progress)
        return parts[0].parent
    folder = cache.whisper_dir(spec.sha256)
    model = folder / "model.bin"
    if model.is_file() and cache.is_verified(model, spec.sha256):
        return folder
    extras = [package_file(p, spec) for p in spec.extras]
    with cache.model_lock(spec.sha256):
        if model.is_file() and cache.is_verified(model, spec.sha256):
            return folder
        if progress:
            progress(f"Joining the {spec.name} speech model (once)…")
        parent = cache.private_dir(folder.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.sha256}.tmp-", dir=parent))
        try:
            joined, got = cache.copy_hashing(parts, tmp, "model.bin")
            if got != spec.sha256:
                raise ModelError(f"The parts of {spec.name} joined to sha256 {got}, not the "
                                 f"pinned {spec.sha256}; {_fix(spec)}.")
            joined.rename(tmp / "model.bin")
            for f in extras:
                shutil.copyfile(f, tmp / f.name)
            if folder.exists():  # an unfinished or damaged earlier folder
                shutil.rmtree(folder)
            tmp.rename(folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        cache.record_verified(model, spec.sha256)
        return folder


def selected_llm(settings) -> ModelSpec:
    """The catalog entry the ``llm`` setting names."""
    return get_model(settings.llm, "llm")


def selected_asr(settings) -> ModelSpec:
    """The catalog entry the ``asr`` setting names."""
    return get_model(settings.asr, "asr")
