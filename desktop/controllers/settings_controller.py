"""Wires the Settings view to core.settings: load, validate, save; microphone test; voice preview.

Saving validates everything first (the Settings model, then any changed model folder with
core.models_check, the same checks `persona settings set` runs); a bad value is shown in the
core's words and nothing is written. The microphone list, the voice list, the microphone
test and the voice preview all run off the UI thread.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import QMessageBox

from persona.core.budget import change_budget
from persona.core.models_check import MODEL_SETTINGS, check_model_setting
from persona.core.settings import Settings
from persona.desktop.context import AppContext
from persona.desktop.controllers.bundle_controller import BundleController
from persona.desktop.controllers.models_controller import ModelsController
from persona.desktop.controllers.names_controller import NamesController
from persona.desktop.controllers.settings_fields import from_view, specs, to_view
from persona.desktop.views.settings_view import SettingsView
from persona.desktop.workers.mic_test import MicTest
from persona.desktop.workers.task import start_task

SAMPLE = "Hello, this is how I will sound when I answer you."


class SettingsController:
    def __init__(self, ctx: AppContext, view: SettingsView) -> None:
        self.ctx, self.view = ctx, view
        self.specs = {s.key: s for s in specs()}
        self.dirty: set[str] = set()
        self.saving = False
        self.mic = MicTest(view)
        self.mic.level.connect(view.meter.set_level)
        self.mic.state.connect(view.set_testing)
        self.mic.failed.connect(
            lambda m: ctx.show_error(m, "The microphone could not be opened"))
        self.speaker = None
        view.build(list(self.specs.values()))
        self.bundle = BundleController(ctx, view.bundle)
        self.names = NamesController(ctx, view.names)
        self.models = ModelsController(ctx, view.models)
        view.set_choices("microphone", [("System default", None)])
        view.set_choices("tts_voice", [("Default voice", None)])
        self.show(ctx.settings)
        view.edited.connect(self._edited)
        view.save_clicked.connect(self.save)
        view.revert_clicked.connect(lambda: self.show(self.ctx.settings))
        view.test_mic_clicked.connect(self.toggle_mic_test)
        view.refresh_mics_clicked.connect(lambda: self.load_devices(refresh=True))
        view.preview_clicked.connect(self.preview)
        ctx.settings_changed.connect(self._changed_elsewhere)
        self._lists_loaded = False

    def activate(self) -> None:
        if not self._lists_loaded:
            self._lists_loaded = True
            self.load_devices()
            self.load_voices()

    # ---------------------------------------------------------------- values
    def show(self, settings: Settings) -> None:
        self.view.populate({k: to_view(s, getattr(settings, k)) for k, s in self.specs.items()})
        self.dirty.clear()
        self.view.set_dirty(False)

    def _edited(self, key: str) -> None:
        if self.view.value(key) == to_view(self.specs[key], getattr(self.ctx.settings, key)):
            self.dirty.discard(key)
        else:
            self.dirty.add(key)
        self.view.set_dirty(bool(self.dirty))
        self.view.status.setText("Unsaved changes: Save (Ctrl+S) checks and keeps them."
                                 if self.dirty else "")

    def edited_settings(self) -> Settings:
        """The settings as edited; raises ValidationError naming a bad value."""
        data = self.ctx.settings.model_dump()
        data.update({k: from_view(self.specs[k], self.view.value(k)) for k in self.dirty})
        return Settings(**data)

    def save(self) -> None:
        if not self.dirty or self.saving:
            return
        old = self.ctx.settings
        try:
            new = self.edited_settings()
        except ValidationError as exc:
            self.ctx.show_error(self._describe(exc), "The settings were not saved")
            return
        if new.privacy_budget > old.privacy_budget and not self._confirm_budget(old, new):
            return
        changed = [k for k in MODEL_SETTINGS if getattr(new, k) != getattr(old, k)]

        budget_changed = new.privacy_budget != old.privacy_budget
        home = self.ctx.home

        def check(_task) -> Settings:
            for key in changed:  # reads the folders: off the UI thread
                check_model_setting(key, getattr(new, key))
            if budget_changed:  # a logged ledger event; a raise was confirmed above
                change_budget(home, budget=new.privacy_budget, confirmed=True,
                              reason="the app's Settings")
            return new

        def failed(message: str) -> None:
            self.view.status.setText("Not saved: " + message)
            self.ctx.show_error(message, "The settings were not saved")

        def done() -> None:
            self.saving = False
            self.view.save.setEnabled(bool(self.dirty))

        self.saving = True
        self.view.save.setEnabled(False)
        start_task(check, name="Checking the settings", on_result=self._store,
                   on_error=failed, on_finished=done)

    def _store(self, settings: Settings) -> None:
        self.ctx.save_settings(settings)
        self.show(settings)
        self.view.status.setText(f"Saved to {self.ctx.home.settings_file}.")
        self.ctx.notice.emit("Settings saved.")

    def _describe(self, exc: ValidationError) -> str:
        lines = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            label = self.specs[key].label if key in self.specs else key
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{label}: {msg} (got {err['input']!r}).")
        return " ".join(lines) + " Nothing was changed."

    def _confirm_budget(self, old: Settings, new: Settings) -> bool:
        answer = QMessageBox.question(
            self.view, "Raise the privacy budget?",
            f"Raising the lifetime budget from ε = {old.privacy_budget:g} to "
            f"{new.privacy_budget:g} weakens Persona's privacy promise: your words can be "
            "trained on more and become easier to recognise in the model. Lowering it later "
            "does not undo what was spent.\n\nRaise it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _changed_elsewhere(self) -> None:
        if not self.dirty:
            self.show(self.ctx.settings)

    # ---------------------------------------------------------------- lists
    def load_devices(self, *, refresh: bool = False) -> None:
        from persona.core.audio.capture import list_input_devices

        if refresh:
            self.mic.stop()
        self.view.refresh_mics.setEnabled(False)

        def shown(devices) -> None:
            self.view.set_choices("microphone", [("System default", None)] + [
                (d.name + ("  (default)" if d.is_default else ""), d.name) for d in devices])
            self.view.mic_status.setText("" if devices else "No microphone found.")

        def find(_task):
            devices = list_input_devices(refresh=refresh)
            if not devices and not refresh:
                # PortAudio lists devices once; a sound server started since then (or a
                # microphone plugged in) needs a re-scan, as core's find_input_device does.
                devices = list_input_devices(refresh=True)
            return devices

        start_task(find, name="Listing microphones",
                   on_result=shown,
                   on_error=lambda m: self.ctx.show_error(m, "Microphones could not be listed"),
                   on_finished=lambda: self.view.refresh_mics.setEnabled(True))

    def load_voices(self) -> None:
        from persona.core.tts.pyttsx3_engine import Pyttsx3Speaker

        def shown(voices: list[str]) -> None:
            self.view.set_choices("tts_voice", [("Default voice", None)]
                                  + [(v, v) for v in sorted(voices)])

        start_task(lambda _t: Pyttsx3Speaker().voices(), name="Listing voices",
                   on_result=shown,
                   on_error=lambda m: self.ctx.show_error(m, "Voices could not be listed"))

    # ---------------------------------------------------------------- microphone test
    def toggle_mic_test(self) -> None:
        self.mic.toggle(self.ctx.settings, self.view.value("microphone"))

    def stop_mic_test(self) -> None:
        self.mic.stop()

    # ---------------------------------------------------------------- voice preview
    def preview(self) -> None:
        from persona.core.tts.pyttsx3_engine import Pyttsx3Speaker

        voice, rate = self.view.value("tts_voice"), self.view.value("tts_rate")
        volume = self.view.value("tts_volume")
        self.view.preview.setEnabled(False)
        self.speaker = Pyttsx3Speaker(voice=voice, rate=rate, volume=volume)
        speaker = self.speaker
        start_task(lambda _t: speaker.say(SAMPLE), name="Previewing the voice",
                   on_error=lambda m: self.ctx.show_error(m, "The voice could not be played"),
                   on_finished=lambda: self.view.preview.setEnabled(True))

    def shutdown(self) -> None:
        if self.speaker is not None:
            self.speaker.stop()
        self.mic.shutdown()
        self.models.shutdown()

    def values(self) -> dict[str, Any]:
        """Every editor's value as Settings takes it (for tests and debugging)."""
        return {k: from_view(s, self.view.value(k)) for k, s in self.specs.items()}
