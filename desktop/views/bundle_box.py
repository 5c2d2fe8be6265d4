"""The "Your persona, encrypted" box of the Settings view and its passphrase dialog (layout
only; desktop/controllers/bundle_controller.py wires them to core/bundle.py)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
)

from persona.desktop.widgets.buttons import button


class BundleBox(QGroupBox):
    export_clicked = Signal()
    import_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Your persona, encrypted", parent)
        note = QLabel("Export writes your memories, profile, adapters and privacy ledger into "
                      "one file locked with a passphrase, to move to another computer or keep "
                      "as a backup. Import makes a new data folder from such a file.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.export_button = button("Export persona…", on_click=self.export_clicked,
                                    tip="Write an encrypted bundle of your persona",
                                    name="Export the persona")
        self.import_button = button("Import persona…", on_click=self.import_clicked,
                                    tip="Make a new data folder from an encrypted bundle",
                                    name="Import a persona")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Bundle progress")
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Bundle status")
        row = QHBoxLayout()
        row.addWidget(self.export_button)
        row.addWidget(self.import_button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addLayout(row)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.export_button.setEnabled(not busy)
        self.import_button.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress report
        self.status.setText(text)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / total) if total else 0)


class PassphraseDialog(QDialog):
    """Asks the passphrase: twice for a new bundle (``confirm``), once to open one."""

    def __init__(self, *, confirm: bool, min_length: int = 8, parent=None) -> None:
        super().__init__(parent)
        self.confirm, self.min_length = confirm, min_length
        self.setWindowTitle("Passphrase for the new bundle" if confirm else
                            "Passphrase of the bundle")
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        self.first.setAccessibleName("Passphrase")
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        self.second.setAccessibleName("Passphrase again")
        self.with_audio = QCheckBox("Include the recordings")
        self.with_audio.setToolTip("Without it the bundle holds the transcripts, not the audio")
        self.hint = QLabel("")
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Passphrase", self.first)
        if confirm:
            form.addRow("Again", self.second)
            form.addRow("", self.with_audio)
            warn = QLabel("Nobody, you included, can open the bundle without it.")
            warn.setWordWrap(True)
            form.addRow("", warn)
        else:
            self.second.setVisible(False)
            self.with_audio.setVisible(False)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.hint)
        lay.addWidget(self.buttons)
        self.first.textChanged.connect(self._check)
        self.second.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        text = self.first.text()
        if not text:
            why = "Type the passphrase."
        elif self.confirm and len(text) < self.min_length:
            why = f"Use at least {self.min_length} characters (a few unrelated words are best)."
        elif self.confirm and self.second.text() != text:
            why = "Type the same passphrase again."
        else:
            why = ""
        self.hint.setText(why)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not why)

    def passphrase(self) -> str:
        return self.first.text()
