"""Wires the Settings view's bundle box to core/bundle.py: Export persona… and Import
persona…, each on a worker with progress; errors in the core's words.

The file and passphrase dialogs are modal, so they are reached through ``ask_export`` and
``ask_import``; the work itself is ``export_to`` / ``import_from``, which tests call
directly with real files.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog

from persona.desktop.context import AppContext
from persona.desktop.views.bundle_box import BundleBox, PassphraseDialog
from persona.desktop.workers.task import Task, start_task


class BundleController:
    def __init__(self, ctx: AppContext, box: BundleBox) -> None:
        self.ctx, self.box = ctx, box
        self.task: Task | None = None
        box.export_clicked.connect(self.ask_export)
        box.import_clicked.connect(self.ask_import)

    # ---------------------------------------------------------------- dialogs
    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.box, "Export the persona to", str(Path.home() / "persona.persona"),
            "Persona bundles (*.persona)")
        if not path:
            return
        dialog = PassphraseDialog(confirm=True, parent=self.box)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.export_to(Path(path), dialog.passphrase(),
                           with_audio=dialog.with_audio.isChecked())

    def ask_import(self) -> None:
        src, _ = QFileDialog.getOpenFileName(self.box, "Import a persona from",
                                             str(Path.home()), "Persona bundles (*.persona)")
        if not src:
            return
        target = QFileDialog.getExistingDirectory(
            self.box, "An empty folder for the imported persona", str(Path.home()))
        if not target:
            return
        dialog = PassphraseDialog(confirm=False, parent=self.box)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.import_from(Path(src), Path(target), dialog.passphrase())

    # ---------------------------------------------------------------- work
    def _run(self, fn, *, name: str, doing: str, done) -> Task:
        self.box.set_busy(True, doing)

        def failed(message: str) -> None:
            self.box.status.setText(message)
            self.ctx.show_error(message, f"{name} failed")

        def finished() -> None:
            self.box.export_button.setEnabled(True)
            self.box.import_button.setEnabled(True)
            self.box.progress.setVisible(False)

        self.task = start_task(fn, name=name, on_result=done, on_error=failed,
                               on_progress=lambda d, t, _text: self.box.set_progress(d, t),
                               on_finished=finished)
        return self.task

    def export_to(self, path: Path, passphrase: str, *, with_audio: bool = False) -> Task:
        """Export the app's home into ``path`` on a worker."""
        home = self.ctx.home

        def work(task: Task):
            from persona.core.bundle import export_persona  # on the worker (~0.8 s of imports)

            return export_persona(home, path, passphrase=passphrase, with_audio=with_audio,
                                  progress=lambda d, t: task.progress(d, t, "exporting"))

        def done(out) -> None:
            self.box.status.setText(f"Exported {out.memories} memories to {out.path} "
                                    f"({out.size / 1e6:.1f} MB). Keep the passphrase safe.")
            self.ctx.notice.emit("Persona exported.")

        return self._run(work, name="Exporting the persona", done=done,
                         doing=f"Exporting to {path} …")

    def import_from(self, src: Path, target: Path, passphrase: str) -> Task:
        """Import the bundle ``src`` into the new or empty folder ``target`` on a worker."""
        def work(task: Task):
            from persona.core.bundle import import_persona  # on the worker

            return import_persona(src, target, passphrase=passphrase,
                                  progress=lambda d, t: task.progress(d, t, "importing"))

        def done(out) -> None:
            self.box.status.setText(
                f"Imported {out.memories} memories into {out.home}. Open it with "
                f"`persona app --home {out.home}`; this window keeps {self.ctx.home.root}.")
            self.ctx.notice.emit("Persona imported.")

        return self._run(work, name="Importing the persona", done=done,
                         doing=f"Checking and importing {src} …")
