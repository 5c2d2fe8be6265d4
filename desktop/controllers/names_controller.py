"""Wires the Settings view's names box to core/names.py: suggestions are found on a worker
(reading every memory can take a while), and the ticked names are added to ``redact_names``
through the app's settings, so every part of the app sees them at once."""

from __future__ import annotations

from persona.core.errors import SettingsError
from persona.core.names import person_texts, with_names
from persona.desktop.context import AppContext
from persona.desktop.views.names_box import NamesBox
from persona.desktop.workers.task import start_task
from persona.privacy.names import suggest_names


class NamesController:
    def __init__(self, ctx: AppContext, box: NamesBox) -> None:
        self.ctx, self.box = ctx, box
        box.suggest_clicked.connect(self.suggest)
        box.confirm_clicked.connect(self.confirm)
        ctx.settings_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.box.show_listed(list(self.ctx.settings.redact_names))

    def suggest(self) -> None:
        home, settings = self.ctx.home, self.ctx.settings
        self.box.set_busy(True, "Looking for names in your memories…")

        def find(_task):
            found = suggest_names(person_texts(home, settings), known=settings.redact_names)
            return [(c.name, c.count) for c in found]

        def failed(message: str) -> None:
            self.box.status.setText(message)
            self.ctx.show_error(message, "Names could not be suggested")

        start_task(find, name="Suggesting names", on_result=self.box.show_candidates,
                   on_error=failed, on_finished=lambda: self.box.set_busy(False))

    def confirm(self) -> None:
        names = self.box.checked_names()
        if not names:
            self.box.status.setText("Tick the names to redact first.")
            return
        try:
            new = with_names(self.ctx.settings, names)
        except SettingsError as exc:
            self.ctx.show_error(str(exc), "Names were not saved")
            return
        self.ctx.save_settings(new)
        self.refresh()
        self.box.drop_checked()
        self.box.status.setText(f"Now redacted before training: {', '.join(names)}.")
