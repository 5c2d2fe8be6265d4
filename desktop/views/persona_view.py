"""The Persona view: the six profile sections, one editor per field (layout only).

PersonaController fills it (``populate``), reads it (``values``) and marks fields with
``set_origin``; nothing here touches the core. Each field gets an editor suited to its
shape: a line for text, one item per line for lists, spin boxes for numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.widgets.buttons import button
from persona.desktop.widgets.scroll_body import scroll_body
from persona.desktop.widgets.topics_panel import TopicsPanel

# Friendlier labels than the field names in profile.yaml.
LABELS = {"avg_sentence_words": "Words per sentence", "emotion_distribution": "Emotions",
          "dominant_emotion": "Usual mood", "key_facts": "Key facts",
          "frequent_topics": "Frequent topics", "active_hours": "Active hours",
          "typical_phrases": "Typical phrases", "speaking_rate": "Speaking rate",
          "reply_style": "Reply style"}
SECTION_TITLES = {"memory": "Memory", "pattern": "Patterns", "preference": "Preferences"}
INDUCED_TIP = ("Filled in from your memories. Edit it to make it yours: re-inducing never "
               "overwrites your edits.")
UNSET = -1  # a spin box at its minimum shows "Not set"



@dataclass(frozen=True)
class FieldSpec:
    """What the view needs to lay out one field."""

    key: str  # "section.subfield"
    section: str
    name: str
    description: str
    kind: str  # text | list | int | float | int_list | shares


class _ListEdit(QPlainTextEdit):
    """One item per line; Tab moves focus on (items never contain tabs)."""

    def __init__(self) -> None:
        super().__init__()
        self.setTabChangesFocus(True)
        self.setFixedHeight(84)
        self.setPlaceholderText("One per line")


class PersonaView(QWidget):
    save_clicked = Signal()
    revert_clicked = Signal()
    reinduce_clicked = Signal()
    edited = Signal(str)  # the key of a field the person changed

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Persona")
        self.editors: dict[str, QWidget] = {}
        self.badges: dict[str, QLabel] = {}
        self.kinds: dict[str, str] = {}
        self._filling = False

        title = QLabel("Persona")
        title.setObjectName("viewTitle")
        hint = QLabel("What Persona knows about you. Fields marked “from memories” were "
                      "filled in by induction; anything you edit stays yours.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.reinduce = button(
            "Re-induce from memories", on_click=self.reinduce_clicked, shortcut="Ctrl+R",
            tip="Fill the fields again from your memories (Ctrl+R). Your own edits are kept.",
            name="Re-induce the profile from memories")
        self.revert = button("Revert", on_click=self.revert_clicked,
                             tip="Forget unsaved edits and show the saved profile",
                             name="Revert unsaved edits")
        self.save = button("Save", on_click=self.save_clicked, object_name="primary",
                           shortcut=QKeySequence.StandardKey.Save,
                           tip="Save your edits (Ctrl+S)", name="Save the profile")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        for b in (self.reinduce, self.revert, self.save):
            head.addWidget(b)

        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setAccessibleName("Profile status")
        self.report = QLabel()
        self.report.setObjectName("inductionReport")
        self.report.setWordWrap(True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report.setAccessibleName("What re-induction changed")
        self.report.hide()

        self.scroll, self._body_layout = scroll_body()
        self.topics = TopicsPanel()  # first in the body: the profile's sections follow
        self._body_layout.addWidget(self.topics)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 18, 24, 12)
        lay.setSpacing(8)
        lay.addLayout(head)
        lay.addWidget(hint)
        lay.addWidget(self.report)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.status)
        self.set_dirty(False)

    # ---------------------------------------------------------------- building
    def build(self, specs: list[FieldSpec], section_descriptions: dict[str, str]) -> None:
        """Lay out one group per section, in order (once)."""
        if self.editors:
            return
        groups: dict[str, QFormLayout] = {}
        for spec in specs:
            if spec.section not in groups:
                box = QGroupBox(SECTION_TITLES.get(spec.section, spec.section.title()))
                box.setAccessibleName(f"{spec.section} section")
                outer = QVBoxLayout(box)
                about = QLabel(section_descriptions.get(spec.section, ""))
                about.setObjectName("muted")
                outer.addWidget(about)
                form = QFormLayout()
                form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
                form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
                outer.addLayout(form)
                groups[spec.section] = form
                self._body_layout.addWidget(box)
                # A layout shows a child added to a visible widget only on the event loop's
                # next pass: show it now, so the view is whole when build() returns.
                box.show()
            label = LABELS.get(spec.name, spec.name.replace("_", " ").capitalize())
            editor = self._editor(spec, label)
            # The reply style is induced from choices between replies (core/prefs/summary.py).
            source = "choices" if spec.key == "preference.reply_style" else "memories"
            badge = QLabel(f"from your {source}" if source == "choices" else "from memories")
            badge.setObjectName("inducedBadge")
            badge.setToolTip(INDUCED_TIP if source == "memories" else (
                "Written from your choices between replies (persona prefs). Edit it to make "
                "it yours: your words are never replaced."))
            badge.setAccessibleName(f"{label} was filled in from your {source}")
            badge.hide()
            row = QHBoxLayout()
            row.addWidget(editor, 1)
            row.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
            name = QLabel(label)
            name.setMinimumWidth(130)  # one label column across all sections
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            name.setBuddy(editor)
            groups[spec.section].addRow(name, row)
            self.editors[spec.key], self.badges[spec.key] = editor, badge
            self.kinds[spec.key] = spec.kind
        self._body_layout.addStretch(1)

    def _editor(self, spec: FieldSpec, label: str) -> QWidget:
        tip = spec.description[:1].upper() + spec.description[1:]
        if spec.kind == "list":
            w: QWidget = _ListEdit()
            w.textChanged.connect(lambda k=spec.key: self._changed(k))
            tip += " (one per line)"
        elif spec.kind in ("int", "float"):
            w = QSpinBox() if spec.kind == "int" else QDoubleSpinBox()
            w.setRange(UNSET, 130 if spec.name == "age" else 1000)
            if spec.kind == "float":
                w.setDecimals(1)
            w.setSpecialValueText("Not set")
            w.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
            w.setMaximumWidth(140)
            w.valueChanged.connect(lambda _v, k=spec.key: self._changed(k))
        else:
            w = QLineEdit()
            w.setClearButtonEnabled(True)
            w.setPlaceholderText({"int_list": "e.g. 7, 21", "shares": "e.g. happy: 0.6, calm: 0.4"
                                  }.get(spec.kind, "Not set"))
            w.textEdited.connect(lambda _t, k=spec.key: self._changed(k))
        w.setToolTip(tip)
        w.setAccessibleName(label)
        w.setAccessibleDescription(tip)
        return w

    def _changed(self, key: str) -> None:
        if not self._filling:
            self.edited.emit(key)

    # ---------------------------------------------------------------- values
    def populate(self, values: dict[str, Any]) -> None:
        """Show ``values`` (per key: str, list[str], int/float or None) without emitting
        ``edited``."""
        self._filling = True
        try:
            for key, value in values.items():
                w = self.editors[key]
                if isinstance(w, QPlainTextEdit):
                    w.setPlainText("\n".join(value or []))
                elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                    w.setValue(UNSET if value is None else value)
                else:
                    w.setText(value or "")
                    w.setCursorPosition(0)  # show a long value from its start
        finally:
            self._filling = False

    def value(self, key: str) -> Any:
        """The editor's content: str, list[str] (non-empty lines), or a number / None."""
        w = self.editors[key]
        if isinstance(w, QPlainTextEdit):
            return [line.strip() for line in w.toPlainText().splitlines() if line.strip()]
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            return None if w.value() == UNSET else w.value()
        return w.text()

    def set_origin(self, key: str, induced: bool) -> None:
        self.badges[key].setVisible(induced)

    def set_dirty(self, dirty: bool) -> None:
        self.save.setEnabled(dirty)
        self.revert.setEnabled(dirty)
        if dirty:
            self.status.setText("Unsaved edits — Save (Ctrl+S) keeps them, Revert drops them.")

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.reinduce.setEnabled(not busy)
        self.scroll.widget().setEnabled(not busy)
        if text:
            self.status.setText(text)

    def show_report(self, text: str) -> None:
        self.report.setText(text)
        self.report.setVisible(bool(text))
