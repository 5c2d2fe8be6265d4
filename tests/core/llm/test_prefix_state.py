"""The persona prefix's KV state kept on disk (core/llm/prefix_state.py), on the real SmolLM2
GGUF: a new process restores it instead of reading it and answers exactly as a fresh model;
a damaged or stale file is ignored with a note and replaced; files are private; a bundle never
carries it and `forget` deletes it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from persona.core.llm.backend import GenerationOptions
from persona.core.llm.llamacpp_backend import LlamaCppBackend
from persona.core.llm.prefix_state import SUFFIX, clear, fixed_messages, state_dir
from persona.core.models.catalog import get_model
from persona.core.models.files import llm_file
from persona.core.persona.profile import Profile
from persona.core.persona.prompt import EXAMPLE, build_messages
from tests.core.llm.conftest import FAST_LLM

GREEDY = GenerationOptions(max_new_tokens=16)


@pytest.fixture(scope="module")
def gguf() -> Path:
    return llm_file(get_model(FAST_LLM, "llm"))


def _ask(question: str, name: str = "Ada") -> list[dict[str, str]]:
    profile = Profile()
    profile.identity.name = name
    return build_messages(profile, [], [], question)


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}"))


def test_fixed_messages_are_the_system_prompt_and_the_worked_example():
    msgs = _ask("Where do I live?")
    assert fixed_messages(msgs) == 1 + len(EXAMPLE)
    assert fixed_messages([msgs[0], msgs[-1]]) == 1  # no example: the system prompt alone
    assert fixed_messages([msgs[-1]]) == 0 and fixed_messages([msgs[0]]) == 0


@pytest.mark.slow
def test_a_new_process_restores_the_prefix_and_answers_as_a_fresh_model(gguf, tmp_path):
    folder = tmp_path / "home" / "cache" / "llm-prefix"
    q = _ask("Where does my sister live?")
    first = LlamaCppBackend(gguf, state_dir=folder)
    want = first.chat(q, GREEDY)
    first.prefix_states.wait()
    assert first.last_stats.evaluated_tokens == first.last_stats.prompt_tokens
    [saved] = _files(folder)
    assert os.stat(saved).st_mode & 0o777 == 0o600
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert saved.stat().st_size < 20e6  # the cells of the prefix, not the whole state

    again = LlamaCppBackend(gguf, state_dir=folder)  # as a new process would
    assert again.chat(q, GREEDY) == want
    stats = again.last_stats
    assert stats.restored_tokens == len(again._fixed_ids) > 100
    assert stats.evaluated_tokens == stats.prompt_tokens - stats.restored_tokens
    # Another question over the restored prefix answers as a model that read it all.
    other = _ask("What is my dog called?")
    fresh = LlamaCppBackend(gguf)
    assert again.chat(other, GREEDY) == fresh.chat(other, GREEDY)
    # A prefill (a live turn's) restores it too.
    third = LlamaCppBackend(gguf, state_dir=folder)
    read = third.prefill(other)
    assert third.restored and read == len(third.encode(other)) - third.restored
    assert third.chat(other, GREEDY) == fresh.chat(other, GREEDY)
    assert third.last_stats.evaluated_tokens == 0


@pytest.mark.slow
def test_a_damaged_file_is_ignored_with_a_note_and_replaced(gguf, tmp_path, caplog):
    folder = tmp_path / "llm-prefix"
    q = _ask("Where does my sister live?")
    b = LlamaCppBackend(gguf, state_dir=folder)
    want = b.chat(q, GREEDY)
    b.prefix_states.wait()
    [saved] = _files(folder)
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the cells
    saved.write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="persona.core.llm.prefix_state"):
        again = LlamaCppBackend(gguf, state_dir=folder)
        assert again.chat(q, GREEDY) == want
        again.prefix_states.wait()
    assert again.last_stats.restored_tokens == 0
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert saved.read_bytes() != bytes(data)  # written again, whole
    third = LlamaCppBackend(gguf, state_dir=folder)
    assert third.chat(q, GREEDY) == want and third.last_stats.restored_tokens > 0


@pytest.mark.slow
def test_a_stale_state_is_not_used_and_is_removed_by_the_new_one(gguf, tmp_path):
    folder = tmp_path / "llm-prefix"
    b = LlamaCppBackend(gguf, state_dir=folder)
    b.chat(_ask("Where do I live?", name="Ada"), GREEDY)
    b.prefix_states.wait()
    [old] = _files(folder)
    # The profile changed (another name): another prefix, another key.
    c = LlamaCppBackend(gguf, state_dir=folder)
    c.chat(_ask("Where do I live?", name="Bea"), GREEDY)
    c.prefix_states.wait()
    assert c.last_stats.restored_tokens == 0
    [new] = _files(folder)
    assert new != old and not old.exists()


def test_clear_deletes_the_homes_prefix_states(tmp_path):
    folder = state_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / f"abc{SUFFIX}").write_bytes(b"x")
    assert clear(tmp_path) == 1 and not folder.exists()
    assert clear(tmp_path) == 0


def test_a_bundle_never_carries_the_prefix_state(tmp_path):
    from persona.core.bundle import export_persona, import_persona
    from persona.core.paths import Home
    from tests.privacy.bundle_helpers import PASSPHRASE

    home = Home.resolve(tmp_path / "home").ensure()
    home.profile_file.write_text("identity:\n  name: Ada\n")
    folder = state_dir(home.root)
    folder.mkdir(parents=True)
    (folder / f"abc{SUFFIX}").write_bytes(b"cells of the persona prefix")
    out = export_persona(home, tmp_path / "p.persona", passphrase=PASSPHRASE)
    assert not any("cache" in p or p.endswith(SUFFIX) for p in out.parts), out.parts
    assert b"cells of the persona prefix" not in out.path.read_bytes()
    imported = import_persona(out.path, tmp_path / "moved", passphrase=PASSPHRASE)
    assert not state_dir(imported.home).exists()
