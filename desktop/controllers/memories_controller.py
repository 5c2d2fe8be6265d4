"""Wires the Memories view to the core: filters and search, edit, forget, play, the charts.

Every store call runs on a worker (``start_task``); the table reads its own pages (see
``persona.desktop.models.memory_table``). After an edit or a forget the app hears
``ctx.memories_changed``; when another part of the app stores memories, this view reloads the
next time it is shown (or at once, if it is showing).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut

from persona.core.errors import StoreError
from persona.core.memory import browse
from persona.core.memory.stats import emotion_stats
from persona.desktop.models.memory_table import MemoryTableModel
from persona.desktop.views.memory_dialogs import EditMemoryDialog, forget_box
from persona.desktop.widgets.charts import Series
from persona.desktop.workers.task import start_task

SEARCH_DELAY_MS = 300  # wait for a pause in typing before searching


class MemoriesController:
    def __init__(self, ctx, view) -> None:
        self.ctx, self.view = ctx, view
        self.model = MemoryTableModel(lambda: ctx.pipeline.store, view)
        view.table.setModel(self.model)
        view.fit_columns()
        self._stale = True  # reload when next shown
        self._own_change = False
        self._playing: threading.Event | None = None
        self.tasks = []

        self._search_timer = QTimer(view, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        view.search_edited.connect(lambda _t: self._search_timer.start())
        view.search.returnPressed.connect(self.apply_filters)
        view.filters_changed.connect(self.apply_filters)
        view.clear_filters_clicked.connect(self.clear_filters)
        view.play_clicked.connect(self.toggle_play)
        view.edit_clicked.connect(self.edit_selected)
        view.forget_clicked.connect(self.forget_selected)
        view.table.doubleClicked.connect(lambda _i: self.edit_selected())
        view.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.counted.connect(self._counted)
        self.model.loading.connect(self._loading)
        self.model.failed.connect(lambda msg: ctx.show_error(msg, "Reading memories failed"))
        ctx.memories_changed.connect(self._changed_elsewhere)

        table = view.table
        ctx_table = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (("Delete", self.forget_selected), ("Return", self.edit_selected),
                           ("Enter", self.edit_selected), ("F2", self.edit_selected)):
            QShortcut(QKeySequence(keys), table, slot, context=ctx_table)
        QShortcut(QKeySequence("Ctrl+F"), view, self.focus_search,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("Escape"), view.search, self._escape_search,
                  context=Qt.ShortcutContext.WidgetShortcut)

    # ------------------------------------------------------------------ loading
    def activate(self) -> None:
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Read the table, the emotion choices and the charts again."""
        self._stale = False
        self.apply_filters()
        self._load_side()

    def _load_side(self) -> None:
        store = self.ctx.pipeline.store
        self._task(lambda _t: (browse.emotions(store), emotion_stats(store)), "Reading emotions",
                   self._side_loaded)

    def _side_loaded(self, value) -> None:
        labels, stats = value
        self.view.set_emotions(labels)
        days, points, shares = emotion_series(stats)
        self.view.mood.set_data(days, points, y_range=(-1.0, 1.0))
        self.view.labels.set_data(days, shares, y_range=(0.0, 1.0))

    def apply_filters(self) -> None:
        self._search_timer.stop()
        try:
            flt = browse.BrowseFilter(**self.view.filter_values())
        except StoreError as exc:
            self.ctx.show_error(str(exc), "Check the dates")
            return
        self.model.set_filter(flt, self.view.search.text())

    def clear_filters(self) -> None:
        self.view.reset_filters()
        self.apply_filters()

    def focus_search(self) -> None:
        self.view.tabs.setCurrentIndex(0)
        self.view.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.view.search.selectAll()

    def _escape_search(self) -> None:
        if self.view.search.text():
            self.view.search.clear()
        else:
            self.view.table.setFocus()

    def _loading(self, busy: bool) -> None:
        if busy and not self.model.total:
            self.view.set_count("Loading …")

    def _counted(self, n: int) -> None:
        searching = bool(self.model.query)
        noun = "memory" if n == 1 else "memories"
        flt = self.model.filter
        filtered = any(v is not None for v in flt.__dict__.values()) or searching
        if searching:
            self.view.set_count(f"{n:,} best {'match' if n == 1 else 'matches'}, best first")
        else:
            self.view.set_count(f"{n:,} {noun}" + (" (filtered)" if filtered else ""))
        if n:
            self.view.show_empty(None)
        elif searching or filtered:
            self.view.show_empty("Nothing matches. Try other words, or press Clear to see "
                                 "every memory.")
        else:
            self.view.show_empty("No memories yet.\n\nTalk to Persona, type a note on the Talk "
                                 "page, or import your own writing with `persona ingest`. "
                                 "Everything you add appears here, newest first.")
        self._selection_changed()

    def _changed_elsewhere(self) -> None:
        if self._own_change:
            return
        self._stale = True
        if self.view.isVisible():
            self.refresh()

    def _announce(self) -> None:
        self._own_change = True
        try:
            self.ctx.memories_changed.emit()
        finally:
            self._own_change = False
        self._load_side()

    # ------------------------------------------------------------------ selection
    def selected(self) -> list:
        rows = sorted({i.row() for i in self.view.table.selectionModel().selectedRows()})
        return [self.model.memory(r) for r in rows if r < self.model.rowCount()]

    def _selection_changed(self, *_args) -> None:
        sel = self.selected()
        self.view.set_selection(len(sel), len(sel) == 1 and bool(sel[0].audio_path))

    # ------------------------------------------------------------------ actions
    def edit_selected(self) -> None:
        sel = self.selected()
        if len(sel) != 1:
            if sel:
                self.ctx.notice.emit("Select one memory to edit.")
            return
        memory = sel[0]
        dialog = EditMemoryDialog(memory.text, f"{memory.ts.astimezone():%Y-%m-%d %H:%M}",
                                  self.view)
        if dialog.exec() != EditMemoryDialog.DialogCode.Accepted:
            return
        self.save_edit(memory.id, dialog.text())

    def save_edit(self, memory_id: str, text: str) -> None:
        """Save new words for a memory (on a worker); errors are shown, nothing changes."""
        pipe = self.ctx.pipeline

        def saved(memory) -> None:
            self.model.replace_memory(memory)
            self.ctx.notice.emit("Memory saved.")
            self._announce()

        self._task(lambda _t: pipe.edit_memory(memory_id, text), "Saving the memory", saved,
                   title="The memory was not changed")

    def forget_selected(self) -> None:
        sel = self.selected()
        if not sel:
            return
        preview = " ".join(sel[0].text.split())
        preview = preview if len(preview) <= 60 else preview[:57] + "…"
        box = forget_box(len(sel), preview, sum(1 for m in sel if m.audio_path), self.view)
        box.exec()
        if box.clickedButton() is box.forget_button:
            self.forget([m.id for m in sel])

    def forget(self, ids: list[str]) -> None:
        """Forget memories and their recordings (on a worker), without asking."""
        pipe = self.ctx.pipeline
        self._stop_playing()

        def work(_t):
            from persona.core.train.unlearn import training_trace

            forgotten = pipe.forget(ids)  # core.memory.forget: every file, replies, profile
            return forgotten, training_trace(pipe.home, pipe.settings,
                                             [m.id for m in forgotten])

        def done(result) -> None:
            forgotten, trace = result
            self.model.remove_ids([m.id for m in forgotten])
            n = len(forgotten)
            note = f"Forgot {n} {'memory' if n == 1 else 'memories'}."
            if trace.in_current_adapter or trace.error:
                note += " " + trace.message()  # what training already learned, and its ε
            self.ctx.notice.emit(note)
            self._announce()

        self._task(work, "Forgetting", done, title="Nothing was forgotten")

    def toggle_play(self) -> None:
        if self._playing is not None:
            self._stop_playing()
            return
        sel = self.selected()
        path = self.ctx.pipeline.recording(sel[0]) if len(sel) == 1 else None
        if path is None:
            self.view.set_playing(False)
            if len(sel) == 1:
                self.ctx.show_error("This memory has no recording: it was typed or imported, "
                                    "or recordings are not kept (see Settings).",
                                    "Nothing to play")
            return
        from persona.core.tts.playback import play_wav

        stop = self._playing = threading.Event()
        self.view.set_playing(True)

        def finished() -> None:
            if self._playing is stop:
                self._playing = None
                self.view.set_playing(False)
                self._selection_changed()

        self._task(lambda _t: play_wav(path, stop=stop), "Playing the recording", None,
                   title="The recording could not be played", on_finished=finished)

    def _stop_playing(self) -> None:
        if self._playing is not None:
            self._playing.set()

    def _task(self, fn, name: str, on_result, *, title: str = "Something went wrong",
              on_finished=None):
        task = start_task(fn, name=name, on_result=on_result,
                          on_error=lambda msg: self.ctx.show_error(msg, title),
                          on_finished=on_finished)
        self.tasks = [t for t in self.tasks if not t.done.is_set()] + [task]
        return task

    def shutdown(self) -> None:
        self._stop_playing()
        for task in self.tasks + self.model.tasks:
            task.done.wait(30)


# One colour per emotion, the same on every day and in both themes (Okabe–Ito based).
EMOTION_COLOURS = {"happy": "#E69F00", "excited": "#D55E00", "calm": "#009E73",
                   "neutral": "#999999", "sad": "#0072B2", "anxious": "#CC79A7",
                   "angry": "#B2182B"}


def emotion_series(stats) -> tuple[list[str], list[Series], list[Series]]:
    """Chart data from ``EmotionStats``: day labels, valence/arousal lines, label shares."""
    days = [f"{d.day:%Y-%m-%d}" for d in stats.days]
    lines = [Series("Valence", [d.valence for d in stats.days], "#0072B2"),
             Series("Arousal", [d.arousal for d in stats.days], "#E69F00")]
    shares = [Series(label, [d.share(label) for d in stats.days], EMOTION_COLOURS.get(label))
              for label in stats.labels]
    return days, lines, shares
