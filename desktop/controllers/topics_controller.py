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
        self._measuring = None  # the running test's Task
        panel.refresh_clicked.connect(self.load)
        panel.measure_clicked.connect(self.measure)
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

    def measure(self, per_topic: int = 2) -> None:
        """Ask ``per_topic`` questions made from each topic's memories (core/evaluate/
        topic_scores.topic_qa) on a worker, then show the topics with their scores; a
        second click cancels. Held-out perplexity needs a second model in memory: it stays
        on the command line (`persona topics --perplexity`)."""
        if self._measuring is not None:
            self._measuring.cancel()
            return
        if self.busy or self.report is None or not self.report.topics:
            return
        from persona.core.evaluate.topic_scores import topic_qa

        report, pipe = self.report, self.ctx.pipeline
        self.panel.set_measuring(True, "Asking a few questions about each topic …")

        def run(task):
            topic_qa(pipe, report, per_topic=per_topic,
                     log=lambda text: task.progress(0, 0, text),
                     should_stop=lambda: task.cancelled)
            return report

        def finished() -> None:
            self._measuring = None
            self.panel.set_measuring(False)

        self._measuring = start_task(
            run, name="Testing topics", on_result=self._show, on_error=self._failed,
            on_progress=lambda _d, _t, text: self.panel.summary.setText(f"Asking: {text}"),
            on_finished=finished)

    def _failed(self, message: str) -> None:
        self.panel.summary.setText(f"The topics could not be found: {message}")

    def shutdown(self) -> None:
        """Cancel a running test (the window is closing)."""
        if self._measuring is not None:
            self._measuring.cancel()

    def _memories_changed(self) -> None:
        self._stale = True
        if self.panel.isVisible():
            self.load()
