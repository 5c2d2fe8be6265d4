"""The app's warm-up (desktop/shell.py): the status line follows the models as they load,
including the one-off runtime copy of the language model on its very first load, which
takes ~10 s for the default model and would otherwise look like a hang.

SmolLM2-135M stands in for Qwen 0.5B (the same code path, seconds instead of ten): the test
gives it a runtime copy, as the catalog gives Qwen, and makes the copy in the test's own
folder so that it is really made here and the shared model cache is untouched.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QApplication

from persona.core.models import catalog, requantize
from persona.core.models.catalog import get_model
from persona.core.settings import load_settings, save_settings
from persona.desktop.shell import Shell

SMALL = "smollm2-135m"


def test_the_status_line_says_the_copy_is_being_made_then_ready(sample_home, make_window,
                                                                 qtbot, monkeypatch, tmp_path):
    spec = get_model(SMALL, "llm")
    monkeypatch.setitem(catalog.BUILTIN, SMALL, replace(spec, runtime_quant="Q4_0"))
    copy = tmp_path / "derived" / f"{spec.sha256}.q4_0.gguf"
    monkeypatch.setattr(requantize, "derived_path", lambda sha, quant: copy)
    settings = load_settings(sample_home / "settings.yaml")
    save_settings(settings.model_copy(update={"llm": SMALL, "llm_backend": "llamacpp"}),
                  sample_home / "settings.yaml")

    window = make_window(sample_home)
    seen: list[str] = []
    shot = tmp_path / "status-while-copying.png"

    def set_status(text: str, real=window.set_status) -> None:
        real(text)
        seen.append(text)
        if "copy" in text and not shot.exists():
            QApplication.processEvents()
            window.grab().save(str(shot))  # what the person sees meanwhile (for a look)

    monkeypatch.setattr(window, "set_status", set_status)
    shell = Shell(QApplication.instance(), window.ctx, window, tray=False)
    shell.warm_up()
    qtbot.waitUntil(lambda: seen and seen[-1].startswith("Ready"), timeout=180_000)

    copying = [s for s in seen if "faster Q4_0 copy" in s]
    assert copying and copying[0].startswith("Speech model ready · Making a faster"), seen
    assert window.status.text().startswith("Ready")
    assert seen.index(copying[0]) < len(seen) - 1  # said before Ready, not after
    assert copy.exists() and window.ctx.pipeline.llm.path == copy
    assert shot.exists()
    assert window.ctx.pipeline.model_progress is None  # not left pointing at a finished task
