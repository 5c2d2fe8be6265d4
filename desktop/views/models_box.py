"""The "Models" box of the Settings view: every catalog model as a card, "Use", and
"Import GGUF…" with progress and Cancel (layout only; desktop/controllers/models_controller.py
fills it from core/models/status.py and does the work on workers)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.widgets.buttons import button

ROLE_WORDS = {"llm": "language model", "asr": "speech-to-text model"}
ROLE_TITLES = {"llm": "Language model (writes the answers)",
               "asr": "Speech-to-text (hears what you say)"}


@dataclass(frozen=True)
class ModelCard:
    """What one card shows, as text (the controller turns a core ModelState into this)."""

    name: str
    role: str
    title: str
    facts: str  # parameters · file size · RAM · licence · languages
    source: str
    sha256: str
    status: str
    in_use: bool
    can_use: bool
    hint: str = ""  # how to install it, when it is not installed
    problem: str = ""  # a selected model that cannot run, and the fix
    note: str = ""


def _label(text: str, object_name: str = "muted", *, selectable: bool = False) -> QLabel:
    label = QLabel(text)
    label.setObjectName(object_name)
    label.setWordWrap(True)
    if selectable:  # commands and paths are there to be copied
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                      | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    return label


class ModelCardWidget(QFrame):
    """One model: title and status, facts, where it came from, sha256, Use."""

    def __init__(self, card: ModelCard, on_use, parent=None) -> None:
        super().__init__(parent)
        self.card = card
        self.setObjectName("modelCard")
        self.setProperty("inUse", card.in_use)
        self.setProperty("problem", bool(card.problem))
        self.setAccessibleName(f"Model {card.name}")
        self.setAccessibleDescription(f"{card.title}. {card.status}. {card.facts}")

        title = QLabel(f"<b>{card.title}</b>  <span>{card.name}</span>")
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setWordWrap(True)
        self.status = QLabel(card.status)
        self.status.setObjectName("modelStatus")
        self.status.setAccessibleName(f"Status of {card.name}")
        self.use = button("In use" if card.in_use else "Use", on_click=lambda: on_use(card.name),
                          tip=f"Make {card.name} the {ROLE_WORDS[card.role]} (as `persona "
                              "models use` does); the next answer uses it",
                          name=f"Use {card.name}")
        self.use.setEnabled(card.can_use)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.status)
        head.addWidget(self.use)

        self.sha = _label(f"sha256 {card.sha256[:12]}…")
        self.sha.setWordWrap(False)
        self.sha.setToolTip(card.sha256)
        self.sha.setAccessibleName(f"sha256 of {card.name}")
        self.copy = button("Copy sha256", on_click=self.copy_sha,
                           tip=f"Copy the full sha256 of {card.name}: {card.sha256}",
                           name=f"Copy the sha256 of {card.name}")
        self.copy.setVisible(bool(card.sha256))
        self.sha.setVisible(bool(card.sha256))
        origin = QHBoxLayout()
        source = _label(card.source, selectable=True)
        source.setVisible(bool(card.source))  # an orphaned selection: nothing is known
        origin.addWidget(source, 1)
        origin.addWidget(self.sha)
        origin.addWidget(self.copy)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(3)
        lay.addLayout(head)
        lay.addWidget(_label(card.facts))
        lay.addLayout(origin)
        self.problem = self.hint = None
        if card.problem:
            self.problem = _label(card.problem, "modelProblem", selectable=True)
            lay.addWidget(self.problem)
        elif card.hint:
            self.hint = _label(f"Not installed: {card.hint}.", selectable=True)
            lay.addWidget(self.hint)
        if card.note:
            lay.addWidget(_label(card.note))

    def copy_sha(self) -> None:
        QGuiApplication.clipboard().setText(self.card.sha256)


class ModelsBox(QGroupBox):
    use_clicked = Signal(str)  # a model's catalog name
    import_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Models", parent)
        note = _label("Every model runs on this computer. Use switches at once: the model is "
                      "checked and loaded in the background, and the next answer uses it. "
                      "RAM is an estimate: the file, plus for a language model the memory of "
                      "a 4096-token conversation and its working space.")
        self.import_button = button(
            "Import &GGUF…", on_click=self.import_clicked,
            tip="Copy a chat model (.gguf) into Persona's model cache and list it here",
            name="Import a GGUF model")
        self.expected = QLineEdit()
        self.expected.setPlaceholderText("sha256 to check (optional)")
        self.expected.setClearButtonEnabled(True)
        self.expected.setAccessibleName("Expected sha256 of the GGUF file")
        self.expected.setToolTip("If the model's publisher gives its sha256, paste it here: a "
                                 "file with another hash is refused")
        self.expected.setMaximumWidth(260)
        self.cancel = button("Cancel", on_click=self.cancel_clicked,
                             tip="Stop the import; nothing is kept", name="Cancel the import")
        self.cancel.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Model progress")
        self.progress.setVisible(False)
        self.status = _label("")
        self.status.setAccessibleName("Models status")
        row = QHBoxLayout()
        row.addWidget(self.import_button)
        row.addWidget(self.expected)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel)
        row.addStretch(0)

        self._cards_host = QWidget()
        self._cards = QVBoxLayout(self._cards_host)
        self._cards.setContentsMargins(0, 0, 0, 0)
        self.cards: dict[str, ModelCardWidget] = {}
        self._busy = False

        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(self._cards_host)
        lay.addLayout(row)
        lay.addWidget(self.status)

    def show_models(self, cards: list[ModelCard]) -> None:
        """Replace the cards, grouped by role (language models first)."""
        while (item := self._cards.takeAt(0)) is not None:
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cards = {}
        for role, heading in ROLE_TITLES.items():
            mine = [c for c in cards if c.role == role]
            if not mine:
                continue
            head = QLabel(heading)
            head.setObjectName("modelRole")
            self._cards.addWidget(head)
            for card in mine:
                widget = ModelCardWidget(card, self.use_clicked.emit)
                widget.use.setEnabled(card.can_use and not self._busy)
                self.cards[card.name] = widget
                self._cards.addWidget(widget)

    def set_busy(self, busy: bool, text: str = "", *, cancellable: bool = False) -> None:
        """While a model is checked, loaded or imported: no second Use or import."""
        self._busy = busy
        self.import_button.setEnabled(not busy)
        self.expected.setEnabled(not busy)
        for w in self.cards.values():
            w.use.setEnabled(w.card.can_use and not busy)
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy and cancellable)
        self.cancel.setEnabled(True)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress report
        if text:
            self.status.setText(text)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / total) if total else 0)

