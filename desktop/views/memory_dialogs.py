"""Dialogs of the Memories view: editing a memory's words, confirming Forget (layout only)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

FORGET_EXPLAINED = (
    "Forgetting removes the memory from every file Persona keeps on this device: its text "
    "from the memory store (old versions and search indexes included), its recording, the "
    "assistant's replies to it and any reply that quoted it, log lines that hold it, and what "
    "the profile drew from it (profile fields you wrote yourself are never changed). Persona "
    "will no longer recall it, and no training run will use it again.\n\n"
    "It does not undo what an earlier training run already learned: the current persona "
    "keeps that, and differential privacy bounds how much any single memory could have "
    "shaped it (its ε in the privacy ledger). `persona forget --retrain` trains a new one "
    "from the base model without it. The privacy ledger and the list of forgotten memories "
    "keep its id (never its text), so the budget stays honest.")


class EditMemoryDialog(QDialog):
    """The text of one memory in an editor; ``text()`` after ``exec()``."""

    def __init__(self, text: str, when: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit memory")
        self.setMinimumWidth(480)
        info = QLabel(f"From {when}. Its time, source, emotion and recording stay as they "
                      f"are; only the words change.")
        info.setObjectName("muted")
        info.setWordWrap(True)
        self.editor = QPlainTextEdit(text)
        self.editor.setAccessibleName("Memory text")
        self.editor.setTabChangesFocus(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Save).setToolTip("Save (Ctrl+Enter)")
        buttons.button(QDialogButtonBox.StandardButton.Save).setShortcut("Ctrl+Return")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(info)
        lay.addWidget(self.editor, 1)
        lay.addWidget(buttons)
        self.editor.setFocus()

    def text(self) -> str:
        return self.editor.toPlainText()


def forget_box(n: int, preview: str, recordings: int, parent: QWidget | None) -> QMessageBox:
    """The confirmation before Forget: what will be deleted and what forgetting does."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Forget memories" if n > 1 else "Forget memory")
    what = f"Forget {n} memories" if n > 1 else f"Forget “{preview}”"
    rec = {0: "", 1: " and 1 recording"}.get(recordings, f" and {recordings} recordings")
    box.setText(f"{what}{rec}?")
    box.setInformativeText(FORGET_EXPLAINED + "\n\nThis cannot be undone.")
    forget = box.addButton("Forget" if n == 1 else f"Forget {n}",
                           QMessageBox.ButtonRole.DestructiveRole)
    forget.setAccessibleName("Confirm forget")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)  # Enter must not destroy anything by accident
    box.setEscapeButton(cancel)
    box.forget_button = forget
    return box
