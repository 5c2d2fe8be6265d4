"""Model folders are checked by their files before a setting is saved."""

from __future__ import annotations

import json
import shutil

import pytest

from persona.core.bundled import bundled_path
from persona.core.cli import main
from persona.core.errors import ModelError
from persona.core.models_check import check_model_setting


def test_the_bundled_models_pass():
    check_model_setting("asr_model", str(bundled_path("asr")))
    check_model_setting("embed_model", str(bundled_path("embed")))
    check_model_setting("llm_model", None)  # None: the bundled model, nothing to check


@pytest.mark.parametrize("key, missing", [("asr_model", "model.bin"),
                                          ("embed_model", "modules.json"),
                                          ("llm_model", "config.json")])
def test_a_folder_of_notes_is_refused_naming_the_missing_file(tmp_path, key, missing):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelError, match=missing) as err:
        check_model_setting(key, str(tmp_path))
    assert key in str(err.value)  # says which setting to fix


def test_wrong_kind_of_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="modules.json"):
        check_model_setting("embed_model", str(bundled_path("asr")))
    with pytest.raises(ModelError, match="BertModel"):
        check_model_setting("llm_model", str(bundled_path("embed")))
    whisper = tmp_path / "whisper"
    shutil.copytree(bundled_path("asr"), whisper, ignore=shutil.ignore_patterns("model.bin"))
    (whisper / "model.bin").write_bytes(b"")
    (whisper / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="tokenizer.json"):
        check_model_setting("asr_model", str(whisper))
    llm = tmp_path / "llm"
    llm.mkdir()
    (llm / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (llm / "tokenizer.json").write_text("{}")
    (llm / "model.gguf").write_bytes(b"")
    with pytest.raises(ModelError, match="converted"):
        check_model_setting("llm_model", str(llm))


def test_cli_settings_set_refuses_and_leaves_the_file_alone(tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["settings", "set", "--home", str(home), "tts_rate", "190"]) == 0
    before = (home / "settings.yaml").read_bytes()
    assert main(["settings", "set", "--home", str(home), "asr_model", str(tmp_path)]) == 2
    assert "model.bin" in capsys.readouterr().err
    assert (home / "settings.yaml").read_bytes() == before
