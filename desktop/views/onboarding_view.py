"""First-run onboarding: what stays on this device, a microphone check, importing one's own
writing (layout only; OnboardingController does the work)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.widgets.buttons import button
from persona.desktop.widgets.level_meter import LevelMeter

PRIVACY_TEXT = (
    "<p>Persona learns you from what you say and write, and <b>all of it stays on this "
    "computer</b>: your recordings, your notes, the memories made from them, your profile "
    "and the model trained on them.</p>"
    "<p><b>Nothing is sent anywhere.</b> There is no account and no cloud; speech "
    "recognition, the language model and training all run here. The only way anything "
    "leaves is an encrypted backup that you export yourself.</p>"
    "<p>Training adds noise under a privacy budget you control (differential privacy), "
    "so the model cannot simply repeat what you told it.</p>")
MIC_TEXT = ("Check that Persona can hear you: press <b>Test</b> and say a few words. The "
            "bar should move while you speak. Nothing from this test is kept.")
IMPORT_TEXT = ("Persona gets to know you faster from your own writing: diaries, notes, "
               "letters (.txt or .md), or recordings of you speaking. Add files or whole "
               "folders; you can always import more later with <code>persona ingest</code>.")
TITLES = ("Welcome to Persona", "Your microphone", "Your own writing")


def _text(html: str) -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class OnboardingView(QDialog):
    finish_clicked = Signal()
    skip_clicked = Signal()
    test_mic_clicked = Signal()
    import_clicked = Signal()
    cancel_import_clicked = Signal()
    page_changed = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Persona")
        self.setAccessibleName("First-run set-up")
        self.setModal(True)
        self.setMinimumSize(560, 420)

        self.title = QLabel(TITLES[0])
        self.title.setObjectName("viewTitle")
        self.step = QLabel()
        self.step.setObjectName("muted")
        self.pages = QStackedWidget()
        self.home_label = QLabel()
        self.home_label.setObjectName("muted")
        self.home_label.setWordWrap(True)
        self.home_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pages.addWidget(self._page(_text(PRIVACY_TEXT), self.home_label))

        self.meter = LevelMeter()
        self.test_mic = button("Test", on_click=self.test_mic_clicked, checkable=True,
                               tip="Listen to the microphone for a few seconds",
                               name="Test the microphone")
        self.mic_status = QLabel("")
        self.mic_status.setObjectName("muted")
        self.mic_status.setWordWrap(True)
        mic_row = QHBoxLayout()
        mic_row.addWidget(self.test_mic)
        mic_row.addWidget(self.meter, 1)
        self.pages.addWidget(self._page(_text(MIC_TEXT), mic_row, self.mic_status))

        self.paths = QListWidget()
        self.paths.setAccessibleName("Files and folders to import")
        self.add_files = QPushButton("Add files…")
        self.add_files.setAccessibleName("Add files to import")
        self.add_files.clicked.connect(self._choose_files)
        self.add_folder = QPushButton("Add folder…")
        self.add_folder.setAccessibleName("Add a folder to import")
        self.add_folder.clicked.connect(self._choose_folder)
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("primary")
        self.import_button.setAccessibleName("Import the chosen files")
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.import_clicked)
        self.cancel_import = QPushButton("Cancel import")
        self.cancel_import.setAccessibleName("Cancel the import")
        self.cancel_import.setToolTip("Stop after the file being read; what is in stays in")
        self.cancel_import.clicked.connect(self.cancel_import_clicked)
        self.cancel_import.hide()
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Import progress")
        self.progress.hide()
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setAccessibleName("Import result")
        buttons = QHBoxLayout()
        for b in (self.add_files, self.add_folder):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_import)
        buttons.addWidget(self.import_button)
        self.pages.addWidget(self._page(_text(IMPORT_TEXT), self.paths, buttons, self.progress,
                                        self.result))

        self.skip = QPushButton("Skip")
        self.skip.setToolTip("Skip the set-up; everything here is also in Settings")
        self.skip.setAccessibleName("Skip the set-up")
        self.skip.clicked.connect(self.skip_clicked)
        self.back = QPushButton("Back")
        self.back.setAccessibleName("Previous step")
        self.back.clicked.connect(lambda: self.go(self.pages.currentIndex() - 1))
        self.next = QPushButton("Next")
        self.next.setObjectName("primary")
        self.next.setDefault(True)
        self.next.setAccessibleName("Next step")
        self.next.clicked.connect(self._next)
        nav = QHBoxLayout()
        nav.addWidget(self.skip)
        nav.addStretch(1)
        nav.addWidget(self.back)
        nav.addWidget(self.next)

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.step)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.setSpacing(12)
        lay.addLayout(head)
        lay.addWidget(self.pages, 1)
        lay.addLayout(nav)
        self.go(0)

    @staticmethod
    def _page(*parts) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(10)
        for part in parts:
            if isinstance(part, QHBoxLayout):
                lay.addLayout(part)
            else:
                lay.addWidget(part)
        lay.addStretch(1)
        return page

    # ---------------------------------------------------------------- navigation
    def go(self, index: int) -> None:
        index = max(0, min(index, self.pages.count() - 1))
        self.pages.setCurrentIndex(index)
        self.title.setText(TITLES[index])
        self.step.setText(f"Step {index + 1} of {self.pages.count()}")
        self.back.setEnabled(index > 0)
        last = index == self.pages.count() - 1
        self.next.setText("Finish" if last else "Next")
        self.next.setAccessibleName("Finish the set-up" if last else "Next step")
        self.next.setFocus()  # Enter moves on; Tab reaches the page's own controls
        self.page_changed.emit(index)

    def _next(self) -> None:
        if self.pages.currentIndex() == self.pages.count() - 1:
            self.finish_clicked.emit()
        else:
            self.go(self.pages.currentIndex() + 1)

    # ---------------------------------------------------------------- import list
    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Choose files to import", "",
            "Writing and recordings (*.txt *.md *.markdown *.wav *.mp3 *.flac *.ogg *.m4a);;"
            "All files (*)")
        self.add_paths(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to import")
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: list[str]) -> None:
        known = set(self.chosen_paths())
        for p in paths:
            if p not in known:
                self.paths.addItem(p)
        self.import_button.setEnabled(self.paths.count() > 0)

    def chosen_paths(self) -> list[str]:
        return [self.paths.item(i).text() for i in range(self.paths.count())]

    def set_importing(self, importing: bool) -> None:
        for w in (self.add_files, self.add_folder, self.import_button, self.next, self.back,
                  self.skip):
            w.setEnabled(not importing)
        self.cancel_import.setVisible(importing)
        self.cancel_import.setEnabled(importing)
        self.progress.setVisible(importing)
        if importing:
            self.progress.setRange(0, 0)  # busy until the first file is counted
            self.result.setText("Importing …")
        else:
            self.import_button.setEnabled(self.paths.count() > 0)
            self.back.setEnabled(self.pages.currentIndex() > 0)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} of {total} files")

    def set_testing(self, testing: bool, text: str = "") -> None:
        self.test_mic.setChecked(testing)
        self.test_mic.setText("Stop" if testing else "Test")
        self.mic_status.setText(text)
        if not testing:
            self.meter.set_level(float("-inf"))
