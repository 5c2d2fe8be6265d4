"""The memory browser's table: a Qt model that fetches rows lazily, never on the UI thread.

Browsing: the ordered ids under the filter are read once on a worker (two small columns,
see ``persona.core.memory.browse``); the view then asks for more rows as it scrolls
(``canFetchMore``/``fetchMore``) and each page of 200 full rows is read on a worker too.
Searching: the best matches of a hybrid search are the rows, all at once. Every load carries
a generation number, so an answer that arrives after the filter changed is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal

from persona.core.memory import browse
from persona.core.memory.schema import Memory
from persona.desktop.theme import icon
from persona.desktop.workers.task import start_task

COLUMNS = ("When", "Source", "Emotion", "Memory")
SOURCE_NAMES = {"voice": "Voice", "text": "Typed", "import": "Imported", "chat": "Chat"}


class MemoryTableModel(QAbstractTableModel):
    loading = Signal(bool)  # True while the index, a page or a search is being read
    counted = Signal(int)  # memories under the filter (or matches of the search)
    failed = Signal(str)  # a message for the person

    def __init__(self, store: Callable[[], object], parent=None, *,
                 page_size: int = browse.PAGE) -> None:
        super().__init__(parent)
        self._store = store  # called on a worker: opening the store may be slow
        self.page_size = page_size
        self.filter = browse.BrowseFilter()
        self.query = ""
        self._ids: list[str] = []  # every row the model can show, in order
        self._rows: list[Memory] = []  # the rows read so far (a prefix of _ids)
        self._generation = 0
        self._fetching = False
        self.tasks = []  # the latest tasks (tests and shutdown wait on them)

    # ------------------------------------------------------------------ loading
    @property
    def total(self) -> int:
        return len(self._ids)

    @property
    def busy(self) -> bool:
        # A task is done in its worker before its rows reach this thread: until the latest
        # one's finished signal is handled here, the rows shown are the old ones.
        return self._fetching or any(not t.done.is_set() for t in self.tasks)

    def set_filter(self, flt: browse.BrowseFilter, query: str = "") -> None:
        """Show the memories under ``flt`` (newest first), or the best matches of ``query``."""
        self.filter, self.query = flt, query.strip()
        self.reload()

    def reload(self) -> None:
        """Read the rows again from the store (after a change or a filter change)."""
        self._generation += 1
        gen, flt, query, store = self._generation, self.filter, self.query, self._store
        self._fetching = True
        self.loading.emit(True)

        def work(_task):
            if query:
                hits = browse.search(store(), query, flt, k=200)
                memories = [h.memory for h in hits]
                return [m.id for m in memories], memories
            index = browse.build_index(store(), flt)
            first = index.page_ids(0, self.page_size)
            return index.ids, browse.fetch(store(), first)

        self._start(work, gen, self._loaded, "Reading memories")

    def _start(self, work, gen: int, done, name: str) -> None:
        def result(value) -> None:
            if gen == self._generation:
                done(value)

        def finished() -> None:
            if gen == self._generation:
                self._fetching = False
                self.loading.emit(False)

        def error(message: str) -> None:
            if gen == self._generation:
                self.failed.emit(message)

        task = start_task(work, name=name, on_result=result, on_error=error,
                          on_finished=finished)
        self.tasks = [t for t in self.tasks if not t.done.is_set()] + [task]

    def _loaded(self, value) -> None:
        ids, memories = value
        self.beginResetModel()
        self._ids, self._rows = list(ids), list(memories)
        self.endResetModel()
        self.counted.emit(len(self._ids))

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: B008 (Qt's signature)
        return not parent.isValid() and not self._fetching and len(self._rows) < len(self._ids)

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        start = len(self._rows)
        ids = self._ids[start:start + self.page_size]
        self._fetching = True
        self.loading.emit(True)
        store, gen = self._store, self._generation
        self._start(lambda _t: browse.fetch(store(), ids), gen,
                    lambda memories: self._append(start, memories), "Reading memories")

    def _append(self, start: int, memories: list[Memory]) -> None:
        if start != len(self._rows) or not memories:
            return
        # A memory forgotten elsewhere meanwhile is missing from the page: drop its id too.
        got = {m.id for m in memories}
        asked = self._ids[start:start + self.page_size]
        if len(got) != len(asked):
            self._ids[start:start + len(asked)] = [i for i in asked if i in got]
        self.beginInsertRows(QModelIndex(), start, start + len(memories) - 1)
        self._rows.extend(memories)
        self.endInsertRows()

    # ------------------------------------------------------------------ changes
    def memory(self, row: int) -> Memory:
        return self._rows[row]

    def remove_ids(self, ids) -> None:
        """Take forgotten memories out of the table (without reading the store again)."""
        gone = set(ids)
        for row in range(len(self._rows) - 1, -1, -1):
            if self._rows[row].id in gone:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        self._ids = [i for i in self._ids if i not in gone]
        self.counted.emit(len(self._ids))

    def replace_memory(self, memory: Memory) -> None:
        """Show an edited memory in place."""
        for row, m in enumerate(self._rows):
            if m.id == memory.id:
                self._rows[row] = memory
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        m, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return f"{m.ts.astimezone():%Y-%m-%d %H:%M}"
            if col == 1:
                return SOURCE_NAMES.get(m.source, m.source) + (
                    " (Persona)" if m.speaker == "assistant" else "")
            if col == 2:
                return m.emotion
            return " ".join(m.text.split())
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 2:
                return (f"{m.emotion}: valence {m.valence:+.2f}, arousal {m.arousal:.2f}, "
                        f"confidence {m.emotion_confidence:.2f}")
            if col == 1 and m.audio_path:
                return "A recording is kept: press Play (Ctrl+P) to hear it"
            text = m.text if len(m.text) <= 600 else m.text[:600] + " …"
            return f"<p style='white-space:pre-wrap'>{_html(text)}</p>"
        if role == Qt.ItemDataRole.DecorationRole and col == 1 and m.audio_path:
            return icon("mic")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.data(index, Qt.ItemDataRole.DisplayRole)
        return None


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
