"""Wires the person's choices in the Talk view to the core (core/prefs/): thumbs on each
reply bubble, and now and then two replies side by side.

Thumbs are kept and the reward model retrained on a worker (it embeds the new reply).
Every ``compare_every``-th typed reply, or on demand (the view's Compare button, Ctrl+B),
two replies to the last question are written on the turn pool (after any turn in progress,
never beside one) and shown as a ChoiceCard; a pick becomes a pair. Ctrl+Up / Ctrl+Down
put a thumb on the last reply.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut

from persona.desktop.widgets.choice_card import ChoiceCard
from persona.desktop.workers.task import start_task

log = logging.getLogger(__name__)


class PrefsController(QObject):
    recorded = Signal(object)  # core.prefs.service.Status after a choice was kept
    card_shown = Signal(object)  # the ChoiceCard (tests wait on it)

    def __init__(self, ctx, view, pool) -> None:
        super().__init__(view)
        self.ctx, self.view, self.pool = ctx, view, pool
        self.typed = 0  # typed replies this session, for compare_every
        self.last: tuple | None = None  # (question, bubble, reply id) of the last reply
        self._stored: dict[str, int] | None = None  # reply id -> vote, read once for history
        for keys, vote in (("Ctrl+Up", 1), ("Ctrl+Down", -1)):
            shortcut = QShortcut(QKeySequence(keys), view)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda v=vote: self._vote_last(v))
        view.compare_clicked.connect(self.compare)

    # ------------------------------------------------------------------ thumbs
    def attach(self, bubble, question: str, *, reply_id: str | None = None) -> None:
        """Offer thumbs on ``bubble`` (Persona's reply to ``question``)."""
        bubble.thumbs.show()
        if reply_id is not None:  # a reply from before: show the vote it has
            bubble.thumbs.set_vote(self._stored_votes().get(reply_id, 0))
        bubble.thumbs.voted.connect(
            lambda vote: self.vote(question, bubble.text, vote, reply_id=reply_id))
        self.last = (question, bubble, reply_id)

    def _stored_votes(self) -> dict[str, int]:
        if self._stored is None:
            try:
                thumbs, _ = self.ctx.pipeline.prefs.log.current()
            except Exception as exc:  # noqa: BLE001 - a damaged file shows no votes
                log.warning("the votes on earlier replies could not be read: %s", exc)
                thumbs = []
            self._stored = {t.reply_id: t.vote for t in thumbs if t.reply_id}
        return self._stored

    def _vote_last(self, vote: int) -> None:
        if self.last is None:
            return
        question, bubble, reply_id = self.last
        new = 0 if bubble.thumbs.vote == vote else vote
        bubble.thumbs.set_vote(new)
        self.vote(question, bubble.text, new, reply_id=reply_id)

    def vote(self, question: str, reply: str, vote: int, *, reply_id: str | None = None
             ) -> None:
        from persona.core.prefs.store import thumb

        if not reply.strip() or reply == "(no reply)":
            return
        choice = thumb(question, reply, vote, reply_id=reply_id)
        self._record(choice, "Your vote")

    def _record(self, choice, what: str) -> None:
        prefs = self.ctx.pipeline.prefs
        start_task(lambda task: prefs.record(choice), name="Keeping your choice",
                   on_result=self._recorded,
                   on_error=lambda m: self.ctx.show_error(m, f"{what} was not kept"))

    def _recorded(self, status) -> None:
        if status.beats_chance:
            self.ctx.notice.emit(f"Kept. {status.summary}")
        else:
            self.ctx.notice.emit(f"Kept ({status.training_pairs} pairs to learn from).")
        self.recorded.emit(status)

    # ------------------------------------------------------------------ side by side
    def after_reply(self, question: str, *, typed: bool) -> None:
        """Called after each reply; every ``compare_every``-th typed one offers a choice."""
        every = self.ctx.settings.compare_every
        if typed:
            self.typed += 1
            if every and self.typed % every == 0:
                self.compare(question)

    def compare(self, question: str | None = None) -> None:
        """Two replies to ``question`` (default: the last one asked), side by side."""
        question = question or (self.last[0] if self.last else "")
        if not question:
            self.ctx.notice.emit("Ask something first; then two replies to it can be "
                                 "compared.")
            return
        from persona.core.prefs.replies import side_by_side

        pipe = self.ctx.pipeline
        self.ctx.notice.emit("Writing two replies to compare …")
        start_task(lambda task: side_by_side(pipe, question), name="Writing two replies",
                   pool=self.pool, on_result=self._show_card,
                   on_error=lambda m: self.ctx.show_error(m, "No replies to compare"))

    def _show_card(self, shown) -> None:
        card = ChoiceCard(shown.question, shown.a.shown or shown.a.text,
                          shown.b.shown or shown.b.text)
        card.picked.connect(lambda which: which and self._record(shown.choose(which),
                                                                 "Your choice"))
        self.view.add_card(card)
        card.setFocus()
        self.card_shown.emit(card)
