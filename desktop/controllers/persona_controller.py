"""Wires the Persona view to the profile: load, hand edits, save, revert, re-induce.

A field shows the "from memories" badge while its value is exactly what induction wrote
(core.persona.fields.field_origin), so the badge goes as soon as the person changes it and
comes back if they type the induced value again. Edits stay in the view until saved or
reverted; switching pages keeps them.
"""

from __future__ import annotations

from typing import Any

from persona.core.errors import PersonaError
from persona.core.persona.fields import (
    ProfileField,
    field_origin,
    format_value,
    parse_value,
    read_fields,
    set_values,
)
from persona.core.persona.profile import Profile, induced_path, load_induced
from persona.desktop.context import AppContext
from persona.desktop.controllers.topics_controller import TopicsController
from persona.desktop.views.persona_view import FieldSpec, PersonaView
from persona.desktop.workers.task import start_task

TYPED = ("int_list", "shares")  # kinds the view shows as one line of text


class PersonaController:
    def __init__(self, ctx: AppContext, view: PersonaView) -> None:
        self.ctx, self.view = ctx, view
        self.path = ctx.home.profile_file
        self.saved: dict[str, Any] = {}  # key -> value as saved
        self.induced: dict[str, Any] = {}  # the induction sidecar
        self.kinds: dict[str, str] = {}
        self.dirty: set[str] = set()
        self.busy = False
        self._after = None
        self._loaded = False
        view.edited.connect(self._edited)
        view.save_clicked.connect(self.save)
        view.revert_clicked.connect(self.revert)
        view.reinduce_clicked.connect(self.reinduce)
        ctx.profile_changed.connect(self._changed_elsewhere)
        self.topics = TopicsController(ctx, view.topics)

    # ---------------------------------------------------------------- loading
    def activate(self) -> None:
        self.topics.activate()
        if not self._loaded and not self.busy:
            self.load()

    def load(self) -> None:
        """Read the profile and its sidecar on a worker, then show them."""
        def read(_task) -> tuple[list[ProfileField], dict]:
            return read_fields(self.path), load_induced(self.path)

        self._start(read, "Reading the profile", "Reading the profile …", self._show)

    def _show(self, loaded: tuple[list[ProfileField], dict]) -> None:
        fields, self.induced = loaded
        self.view.build([FieldSpec(f.key, f.section, f.name, f.description, f.kind)
                         for f in fields],
                        {s: info.description for s, info in Profile.model_fields.items()})
        self.kinds = {f.key: f.kind for f in fields}
        self.saved = {f.key: f.value for f in fields}
        self.view.populate({f.key: self._display(f.kind, f.value) for f in fields})
        self.dirty.clear()
        for f in fields:
            self.view.set_origin(f.key, f.origin == "induced")
        self._loaded = True
        self.view.set_dirty(False)
        n_induced = sum(f.origin == "induced" for f in fields)
        n_yours = sum(f.origin == "yours" for f in fields)
        self.view.status.setText(
            f"{n_yours} field(s) set by you, {n_induced} from your memories · {self.path}"
            if self.path.exists() else
            "No profile yet: fill in what you like, or re-induce it from your memories.")

    @staticmethod
    def _display(kind: str, value: Any) -> Any:
        return format_value(kind, value) if kind in TYPED else value

    def _value(self, key: str) -> Any:
        """The field's value as the core takes it (raises PersonaError if it cannot be read)."""
        raw = self.view.value(key)
        return parse_value(key, raw) if self.kinds[key] in TYPED else raw

    # ---------------------------------------------------------------- editing
    def _edited(self, key: str) -> None:
        try:
            value = self._value(key)
        except PersonaError:
            value = object()  # half-typed: certainly not the saved or induced value
        if value == self.saved.get(key):
            self.dirty.discard(key)
        else:
            self.dirty.add(key)
        self.view.set_origin(key, field_origin(value, key, self.induced) == "induced")
        self.view.set_dirty(bool(self.dirty))

    def edits(self) -> dict[str, Any]:
        """Unsaved edits, ``{key: value}``; raises PersonaError naming a field it cannot read."""
        return {key: self._value(key) for key in sorted(self.dirty)}

    def save(self, then=None) -> None:
        """Save the edits on a worker; a bad value is shown and nothing is saved."""
        if not self.dirty or self.busy:
            return
        try:
            values = self.edits()
        except PersonaError as exc:
            self.ctx.show_error(str(exc), "The profile was not saved")
            return

        def saved(fields: list[ProfileField]) -> None:
            self._show((fields, self.induced))
            self.ctx.notice.emit("Profile saved.")
            self.ctx.profile_changed.emit()
            self._after = then  # run once this task has finished (and the view is free)

        self._start(lambda _t: set_values(self.path, values), "Saving the profile",
                    "Saving …", saved, error_title="The profile was not saved")

    def revert(self) -> None:
        self.view.populate({k: self._display(self.kinds[k], self.saved[k]) for k in self.dirty})
        for key in list(self.dirty):
            self.view.set_origin(key, field_origin(self.saved[key], key, self.induced)
                                 == "induced")
        self.dirty.clear()
        self.view.set_dirty(False)
        self.view.status.setText("Edits reverted.")

    # ---------------------------------------------------------------- re-induction
    def reinduce(self) -> None:
        """Save pending edits first (so they count as the person's), then re-induce."""
        if self.busy:
            return
        if self.dirty:
            self.save(then=self.reinduce)
            return

        def run(_task):
            _profile, report = self.ctx.pipeline.induce_profile()
            return report, read_fields(self.path)

        def done(result) -> None:
            report, fields = result
            self.induced = load_induced(self.path) if induced_path(self.path).exists() else {}
            self._show((fields, self.induced))
            self.view.show_report(describe(report))
            self.ctx.profile_changed.emit()

        self._start(run, "Re-inducing the profile", "Re-inducing from your memories …", done,
                    error_title="Re-induction failed")

    def shutdown(self) -> None:
        self.topics.shutdown()

    # ---------------------------------------------------------------- plumbing
    def _start(self, fn, name: str, text: str, on_result, *,
               error_title: str = "The profile could not be read") -> None:
        self.busy = True
        self.view.set_busy(True, text)

        def finished() -> None:
            self.busy = False
            self.view.set_busy(False)
            after, self._after = self._after, None
            if after is not None:
                after()

        def failed(message: str) -> None:
            self.view.status.setText(message)
            self.ctx.show_error(message, error_title)

        start_task(fn, name=name, on_result=on_result, on_error=failed,
                   on_finished=finished)

    def _changed_elsewhere(self) -> None:
        # Another part of the app (or this view) changed the profile: show it, unless the
        # person is in the middle of editing.
        if self._loaded and not self.dirty and not self.busy:
            self.load()


def describe(report) -> str:
    """One paragraph: what re-induction changed and which of the person's values it kept."""
    def names(items) -> str:
        return ", ".join(c.field.split(".", 1)[1].replace("_", " ") for c in items)

    parts = [f"Re-induced from {report.n_memories} memories."]
    parts.append(f"Changed: {names(report.changed)}." if report.changed else "Nothing changed.")
    if report.kept:
        parts.append(f"Kept your own {names(report.kept)} (induction found something else).")
    return " ".join(parts)
