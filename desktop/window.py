"""The main window: a sidebar of views, the message bar, and a status line for the models.

Each page is a view (layout only) with its controller (wiring to the core); the window
builds them when first shown, so the window itself appears at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.context import AppContext
from persona.desktop.widgets.banner import MessageBanner


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    view: str  # "module:Class" under desktop.views
    controller: str  # "module:Class" under desktop.controllers
    hint: str


PAGES = (
    Page("talk", "Talk", "talk_view:TalkView", "talk_controller:TalkController",
         "Hold Space or the microphone to talk"),
    Page("memories", "Memories", "memories_view:MemoriesView",
         "memories_controller:MemoriesController", "Everything Persona remembers"),
    Page("persona", "Persona", "persona_view:PersonaView", "persona_controller:PersonaController",
         "What Persona knows about you"),
    Page("privacy", "Privacy & training", "privacy_view:PrivacyView",
         "privacy_controller:PrivacyController", "The privacy ledger and on-device training"),
    Page("settings", "Settings", "settings_view:SettingsView",
         "settings_controller:SettingsController", "Microphone, voice, models and privacy"),
)
VIEW_KEYS = tuple(p.key for p in PAGES)


def _load(package: str, spec: str):
    module, name = spec.split(":")
    return getattr(importlib.import_module(f"persona.desktop.{package}.{module}"), name)


class MainWindow(QMainWindow):
    closing = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(f"Persona — {ctx.home.root.name}" if ctx.home.root.name != "persona"
                            else "Persona")
        self.setMinimumSize(QSize(760, 520))
        self.resize(1040, 720)
        self.views: dict[str, QWidget] = {}
        self.controllers: dict[str, object] = {}
        self.close_guard: Callable[[QCloseEvent], bool] | None = None  # see desktop.app

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setAccessibleName("Views")
        self.nav.setFixedWidth(190)
        self.nav.setIconSize(QSize(18, 18))
        self.stack = QStackedWidget()
        for i, page in enumerate(PAGES):
            item = QListWidgetItem(page.title)
            item.setToolTip(f"{page.hint} (Ctrl+{i + 1})")
            item.setData(Qt.ItemDataRole.UserRole, page.key)
            self.nav.addItem(item)
            holder = QWidget()
            holder.setLayout(QVBoxLayout())
            holder.layout().setContentsMargins(0, 0, 0, 0)
            self.stack.addWidget(holder)
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self,
                      activated=lambda k=page.key: self.show_view(k))
        self.nav.currentRowChanged.connect(lambda row: self.show_view(PAGES[row].key))

        self.banner = MessageBanner()
        ctx.error.connect(self.banner.show_error)
        ctx.notice.connect(self.banner.show_notice)
        self.status = QLabel("Starting …")
        self.status.setObjectName("modelStatus")
        self.status.setAccessibleName("Model status")
        self.training = QLabel("")
        self.training.setObjectName("trainingStatus")
        self.training.setAccessibleName("Training status")
        self.training.setToolTip("Details in Privacy & training (Ctrl+4)")
        self.statusBar().addPermanentWidget(self.training)
        self.statusBar().addPermanentWidget(self.status)
        ctx.training_changed.connect(self._show_training)
        self.statusBar().setSizeGripEnabled(False)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(0)
        rl.addWidget(self.banner)
        rl.addWidget(self.stack, 1)
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.nav)
        lay.addWidget(right, 1)
        self.setCentralWidget(central)

    # ------------------------------------------------------------------ pages
    def page(self, key: str) -> tuple[QWidget, object]:
        """The view and controller of ``key``, built on first use."""
        if key not in self.views:
            index = VIEW_KEYS.index(key)
            page = PAGES[index]
            view = _load("views", page.view)()
            controller = _load("controllers", page.controller)(self.ctx, view)
            self.stack.widget(index).layout().addWidget(view)
            self.views[key], self.controllers[key] = view, controller
        return self.views[key], self.controllers[key]

    def build_pages_when_idle(self, done: Callable[[], None] | None = None) -> None:
        """Build the pages not shown yet, one per turn of the event loop, so that switching
        to one later is instant (building a page takes 30–90 ms of the UI thread)."""
        todo = [k for k in VIEW_KEYS if k not in self.views]

        def next_page() -> None:
            while todo and todo[0] in self.views:
                todo.pop(0)
            if todo:
                self.page(todo.pop(0))
                QTimer.singleShot(0, next_page)
            elif done is not None:
                done()

        QTimer.singleShot(0, next_page)

    def show_view(self, key: str) -> QWidget:
        view, controller = self.page(key)
        index = VIEW_KEYS.index(key)
        if self.nav.currentRow() != index:
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(index)
            self.nav.blockSignals(False)
        self.stack.setCurrentIndex(index)
        activate = getattr(controller, "activate", None)
        if activate is not None:
            activate()
        return view

    def current_key(self) -> str:
        return VIEW_KEYS[self.stack.currentIndex()]

    def _show_training(self) -> None:
        privacy = self.controllers.get("privacy")
        text = privacy.training_text() if privacy is not None else ""
        self.training.setText(f"● {text}  ·" if text else "")

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_guard is not None and not self.close_guard(event):
            event.ignore()
            return
        self.closing.emit()
        super().closeEvent(event)
