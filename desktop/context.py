"""What every controller shares: the person's home, the core pipeline, and app-wide signals.

The pipeline is the same ``core.pipeline.Pipeline`` the CLI drives; the app adds nothing to
it but threads. Controllers announce changes here (a memory stored, settings saved, a
training run finished) so that other views refresh without knowing about each other.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QThreadPool, Signal

from persona.core.paths import Home
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings, load_settings, save_settings

log = logging.getLogger(__name__)
_READY = {"transcriber": "asr", "llm": "llm"}  # pipeline component -> AppContext.ready name


class AppContext(QObject):
    error = Signal(str, str)  # title, message: shown in the window's message bar
    notice = Signal(str)  # a short, passing status message
    memories_changed = Signal()  # stored, edited, forgotten or imported
    settings_changed = Signal()
    profile_changed = Signal()
    training_changed = Signal()  # a run began, made progress in another process, or ended
    models_ready = Signal(str)  # "asr" or "llm", once warmed up in the background

    def __init__(self, home: Home, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.home = home.ensure()
        self.pipeline = Pipeline(self.home)
        self.pipeline.warm_between_turns = True  # the app stays open between turns
        self.pool = QThreadPool.globalInstance()
        # One background thread more than cores is enough: ASR, LLM and LanceDB release the
        # GIL while they work; more threads would only fight over two cores.
        self.pool.setMaxThreadCount(max(4, self.pool.maxThreadCount()))
        self.ready: set[str] = set()

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    def reload_settings(self) -> Settings:
        """Read settings.yaml again (another process, or `persona settings set`, changed it)."""
        self.pipeline.settings = load_settings(self.home.settings_file)
        self.settings_changed.emit()
        return self.pipeline.settings

    def save_settings(self, settings: Settings, **loaded) -> None:
        """Save ``settings`` and make every part of the app use them.

        Models that depend on a changed setting are dropped, so they load again on next use;
        ``loaded`` hands over components already built for the new settings (``llm=``,
        ``transcriber=``: the Models box loads a model before it switches), used at once.
        """
        old = self.pipeline.settings
        save_settings(settings, self.home.settings_file)
        self.pipeline.settings = settings
        reload = {"asr": "transcriber", "asr_model": "transcriber",
                  "asr_language": "transcriber", "embed_model": "embedder", "llm": "llm",
                  "llm_model": "llm", "llm_backend": "llm", "llm_requantize": "llm",
                  "tts_voice": "speaker",
                  "tts_rate": "speaker", "tts_volume": "speaker"}
        for key, attr in reload.items():
            if getattr(old, key) != getattr(settings, key):
                self.pipeline.__dict__.pop(attr, None)
                if attr == "embedder":
                    self.pipeline.__dict__.pop("store", None)
                self.ready.discard(_READY.get(attr, attr))
        for attr, component in loaded.items():
            self.pipeline.__dict__[attr] = component
            self.ready.add(_READY.get(attr, attr))
            self.models_ready.emit(_READY.get(attr, attr))
        self.settings_changed.emit()

    def show_error(self, message: str, title: str = "Something went wrong") -> None:
        log.warning("%s: %s", title, message)
        self.error.emit(title, message)
