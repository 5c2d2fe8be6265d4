"""Fills the "What I can answer well" panel: topics of the memories, off the UI thread.

The topics come from core/memory/topics.py (the same as `persona topics`); they are read when
the Persona view first shows and again after the memories change.
"""

from __future__ import annotations

from persona.core.memory.topics import TopicReport, store_topics
from persona.desktop.context import AppContext
from persona.desktop.widgets.topics_panel import TopicsPanel
from persona.desktop.workers.task import start_task


class TopicsController:
    def __init__(self, ctx: AppContext, panel: TopicsPanel) -> None:
        self.ctx, self.panel = ctx, panel
        self.report: TopicReport | None = None
        self.busy = False
        self._stale = True
        panel.refresh_clicked.connect(self.load)
        ctx.memories_changed.connect(self._memories_changed)

    def activate(self) -> None:
        if self._stale and not self.busy:
            self.load()

    def load(self) -> None:
        """Group the memories into topics on a worker, then show them."""
        if self.busy:
            return
        self.busy, self._stale = True, False
        self.panel.set_busy(True, "Grouping your memories into topics …")
        store = self.ctx.pipeline.store

        def finished() -> None:
            self.busy = False
            self.panel.set_busy(False)

        start_task(lambda _task: store_topics(store), name="Finding topics",
                   on_result=self._show, on_error=self._failed, on_finished=finished)

    def _show(self, report: TopicReport) -> None:
        self.report = report
        rows = [(t.name, t.level(report.total), t.sentence(report.total),
                 "For example: " + " · ".join(t.examples)) for t in report.topics]
        summary = report.summary() + (" The more memories a topic has, the better I can "
                                      "answer about it." if report.total else "")
        self.panel.show_topics(rows, summary)

    def _failed(self, message: str) -> None:
        self.panel.summary.setText(f"The topics could not be found: {message}")

    def _memories_changed(self) -> None:
        self._stale = True
        if self.panel.isVisible():
            self.load()
