"""The Settings view: every setting of `persona settings`, in groups (layout only).

SettingsController describes the settings (``SettingSpec``), fills the editors, reads them
back and runs the microphone test and the voice preview; nothing here touches the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.views.bundle_box import BundleBox
from persona.desktop.views.models_box import ModelsBox
from persona.desktop.views.names_box import NamesBox
from persona.desktop.widgets.buttons import button
from persona.desktop.widgets.level_meter import LevelMeter
from persona.desktop.widgets.scroll_body import scroll_body


@dataclass(frozen=True)
class SettingSpec:
    """How one setting is shown and edited."""

    key: str
    label: str
    group: str
    kind: str  # bool | int | float | choice | text | folder | optional | device | voice
    tip: str = ""
    choices: tuple[str, ...] = ()
    minimum: float = 0
    maximum: float = 1_000_000
    decimals: int = 2
    suffix: str = ""
    note: str = ""  # a line under the editor


MODELS_BEFORE = "Model options"  # the group the Models box is shown above


class SettingsView(QWidget):
    save_clicked = Signal()
    revert_clicked = Signal()
    edited = Signal(str)
    test_mic_clicked = Signal()
    refresh_mics_clicked = Signal()
    preview_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Settings")
        self.editors: dict[str, QWidget] = {}
        self._filling = False

        title = QLabel("Settings")
        title.setObjectName("viewTitle")
        self.revert = button("Revert", on_click=self.revert_clicked,
                             tip="Drop unsaved changes", name="Revert unsaved settings")
        self.save = button("Save", on_click=self.save_clicked, object_name="primary",
                           shortcut=QKeySequence.StandardKey.Save,
                           tip="Check and save the settings (Ctrl+S)", name="Save the settings")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.revert)
        head.addWidget(self.save)

        # The microphone test and the voice preview live next to their settings.
        self.meter = LevelMeter()
        self.test_mic = button(
            "Test", on_click=self.test_mic_clicked, checkable=True,
            tip="Listen to the microphone for a few seconds and show its level",
            name="Test the microphone")
        self.refresh_mics = button("Refresh", on_click=self.refresh_mics_clicked,
                                   tip="Look for microphones again (after plugging one in)",
                                   name="Refresh the list of microphones")
        self.mic_status = QLabel("")
        self.mic_status.setObjectName("muted")
        self.preview = button("Preview", on_click=self.preview_clicked,
                              tip="Say a sample sentence with this voice and rate",
                              name="Preview the voice")
        self.names = NamesBox()  # names redacted before training, and suggestions
        self.bundle = BundleBox()  # Export persona… / Import persona…
        self.models = ModelsBox()  # the catalog: Use, Import GGUF…

        self.scroll, self._body_layout = scroll_body()
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Settings status")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 18, 24, 12)
        lay.setSpacing(8)
        lay.addLayout(head)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.status)
        self.set_dirty(False)

    # ---------------------------------------------------------------- building
    def build(self, specs: list[SettingSpec]) -> None:
        if self.editors:
            return
        forms: dict[str, QFormLayout] = {}
        for spec in specs:
            if spec.group not in forms:
                if spec.group == MODELS_BEFORE:  # the catalog, then its options
                    self._body_layout.addWidget(self.models)
                box = QGroupBox(spec.group)
                form = QFormLayout(box)
                form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
                forms[spec.group] = form
                self._body_layout.addWidget(box)
            editor = self._editor(spec)
            self.editors[spec.key] = editor
            label = QLabel(spec.label)
            label.setMinimumWidth(170)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setBuddy(editor)
            label.setToolTip(spec.tip)
            forms[spec.group].addRow(label, self._row(spec, editor))
            if spec.key == "microphone":
                forms[spec.group].addRow("", self._meter_row())
            if spec.note:
                note = QLabel(spec.note)
                note.setObjectName("muted")
                note.setWordWrap(True)
                forms[spec.group].addRow("", note)
        self._body_layout.addWidget(self.names)
        self._body_layout.addWidget(self.bundle)
        self._body_layout.addStretch(1)

    def _editor(self, spec: SettingSpec) -> QWidget:
        if spec.kind == "bool":
            w: QWidget = QCheckBox()
            w.toggled.connect(lambda _v, k=spec.key: self._changed(k))
        elif spec.kind in ("int", "float"):
            w = QSpinBox() if spec.kind == "int" else QDoubleSpinBox()
            if spec.kind == "float":
                w.setDecimals(spec.decimals)
            w.setRange(spec.minimum, spec.maximum)
            w.setSuffix(spec.suffix)
            w.setMaximumWidth(180)
            w.valueChanged.connect(lambda _v, k=spec.key: self._changed(k))
        elif spec.kind in ("choice", "device", "voice"):
            w = QComboBox()
            w.setMinimumContentsLength(24)
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            for choice in spec.choices:
                w.addItem(choice, choice)
            w.currentIndexChanged.connect(lambda _i, k=spec.key: self._changed(k))
        else:
            w = QLineEdit()
            w.setClearButtonEnabled(True)
            # An empty value means "no limit" for the retention settings, "automatic" elsewhere.
            empty = ("Keep for ever" if spec.key.startswith("keep_") else "Automatic")
            w.setPlaceholderText({"folder": "The bundled model", "optional": empty}
                                 .get(spec.kind, ""))
            w.textEdited.connect(lambda _t, k=spec.key: self._changed(k))
        w.setToolTip(spec.tip)
        w.setAccessibleName(spec.label)
        return w

    def _row(self, spec: SettingSpec, editor: QWidget) -> QWidget:
        extra: list[QWidget] = []
        if spec.kind == "folder":
            browse = QPushButton("Choose…")
            browse.setAccessibleName(f"Choose the {spec.label} folder")
            browse.setToolTip("Pick a model folder on this computer")
            browse.clicked.connect(lambda _c=False, s=spec: self._browse(s))
            extra.append(browse)
        elif spec.kind == "device":
            extra += [self.refresh_mics, self.test_mic]
        elif spec.kind == "voice":
            extra.append(self.preview)
        if not extra:
            return editor
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(editor, 1)
        for w in extra:
            lay.addWidget(w)
        return row

    def _meter_row(self) -> QWidget:
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.meter, 1)
        lay.addWidget(self.mic_status)
        return row

    def _browse(self, spec: SettingSpec) -> None:
        editor = self.editors[spec.key]
        folder = QFileDialog.getExistingDirectory(self, f"Choose the {spec.label} folder",
                                                  editor.text())
        if folder:
            editor.setText(folder)
            self._changed(spec.key)

    def _changed(self, key: str) -> None:
        if not self._filling:
            self.edited.emit(key)

    # ---------------------------------------------------------------- values
    def set_choices(self, key: str, items: list[tuple[str, Any]]) -> None:
        """Replace a combo box's items with ``(text, value)`` pairs, keeping the selection."""
        box = self.editors[key]
        current = box.currentData()
        self._filling = True
        try:
            box.clear()
            for text, value in items:
                box.addItem(text, value)
            self._select(box, current)
        finally:
            self._filling = False

    @staticmethod
    def _select(box: QComboBox, value: Any) -> None:
        index = box.findData(value)
        if index < 0:  # a saved value that is not offered (a microphone unplugged)
            box.addItem(str(value), value)
            index = box.count() - 1
        box.setCurrentIndex(index)

    def populate(self, values: dict[str, Any]) -> None:
        self._filling = True
        try:
            for key, value in values.items():
                w = self.editors[key]
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                    w.setValue(value)
                elif isinstance(w, QComboBox):
                    self._select(w, value)
                else:
                    w.setText("" if value is None else str(value))
                    w.setCursorPosition(0)
        finally:
            self._filling = False

    def value(self, key: str) -> Any:
        w = self.editors[key]
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            return w.value()
        if isinstance(w, QComboBox):
            return w.currentData()
        return w.text().strip()

    def set_dirty(self, dirty: bool) -> None:
        self.save.setEnabled(dirty)
        self.revert.setEnabled(dirty)

    def set_testing(self, testing: bool, text: str = "") -> None:
        self.test_mic.setChecked(testing)
        self.test_mic.setText("Stop" if testing else "Test")
        self.mic_status.setText(text)
        if not testing:
            self.meter.set_level(float("-inf"))
