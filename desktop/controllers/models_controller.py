"""Wires the Settings view's Models box to core/models/: the catalog as this home sees it,
"Use" (what `persona models use` does) and "Import GGUF…" (`persona models import`).

Use checks the model's file against its sha256 (joining split packages the first time) and
loads it on a worker *before* the setting changes: a damaged file, or a model that cannot
load (e.g. the person's adapter does not fit it), leaves the old model in use and says why.
Once loaded, the new setting is saved and the loaded model replaces the old one in the
pipeline, so the next answer (or transcript) uses it without loading again.

Import copies and hashes the file on a worker with progress and Cancel; a refused file
(not GGUF, no chat template, hash mismatch) is shown in the window's message bar and the
cache and registry stay as they were (core/models/importer.py checks before it changes).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from persona.core.errors import ModelError
from persona.core.models.cache import CopyCancelled
from persona.core.models.status import (
    FOLDER_SETTING,
    ROLE_NAMES,
    ModelState,
    catalog_states,
    choose,
    params_text,
    size_text,
)
from persona.desktop.context import AppContext
from persona.desktop.views.models_box import ModelCard, ModelsBox
from persona.desktop.workers.task import Task, start_task

LANGUAGES = {"en": "English only", "multilingual": "many languages"}


def card_of(state: ModelState, settings=None) -> ModelCard:
    """What the box shows for one row of ``catalog_states`` (``settings``: the home's, to
    say which file llama.cpp runs)."""
    if state.orphan:
        return ModelCard(name=state.name, role=state.role, title="Missing model",
                         facts="Selected in the settings, but no catalog entry has this name "
                               "any more", source="", sha256="",
                         status="Selected, missing", in_use=False, can_use=False,
                         problem=state.problem or "")
    spec = state.spec
    facts = " · ".join([f"{params_text(spec.params)} parameters", f"{size_text(spec.size)} file",
                        f"about {size_text(spec.ram_bytes)} RAM", f"licence {spec.licence}",
                        LANGUAGES.get(spec.languages, spec.languages)])
    if state.selected and not state.installed:
        status = "Selected, missing"
    elif state.in_use:
        status = "In use"
    elif state.selected:
        status = f"Selected ({FOLDER_SETTING[state.role]} folder used instead)"
    else:
        status = "Installed" if state.installed else "Not installed"
    if state.installed:
        status += " · sha256 verified" if state.verified else " · sha256 not checked yet"
    return ModelCard(name=spec.name, role=spec.role, title=spec.title, facts=facts,
                     source=("From " + spec.source.removeprefix("PyPI ") + " (PyPI)"
                             if not spec.imported else spec.source.capitalize()),
                     sha256=spec.sha256, status=status, in_use=state.in_use,
                     can_use=state.installed and not state.in_use,
                     hint="" if state.installed else spec.install_hint(),
                     problem=state.problem or "", note=_note(spec, settings))


def _note(spec, settings) -> str:
    """The catalog's note, then which file llama.cpp runs (`persona models info` also gives
    the copy's path: core/models/requantize.py)."""
    runs = ""
    if settings is not None and spec.runtime_quant:
        runs = (f"llama.cpp runs a faster {spec.runtime_quant} copy of this file, made once on "
                "this computer." if settings.llm_requantize else
                "llama.cpp runs this file as it is (“Faster copy of the model” is off).")
    return " ".join(x for x in (spec.note, runs) if x)


class ModelsController:
    def __init__(self, ctx: AppContext, box: ModelsBox) -> None:
        self.ctx, self.box = ctx, box
        self.task: Task | None = None
        self._cancel = threading.Event()  # set by Cancel; the importer stops between blocks
        box.use_clicked.connect(self.use)
        box.import_clicked.connect(self.ask_import)
        box.cancel_clicked.connect(self.cancel)
        ctx.settings_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show the catalog again (a few find_spec and stat calls: no file is read)."""
        settings = self.ctx.settings
        self.box.show_models([card_of(s, settings) for s in catalog_states(settings)])

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done.is_set()

    # ---------------------------------------------------------------- Use
    def use(self, name: str) -> Task | None:
        """Check and load ``name`` on a worker, then make it the model of its role."""
        if self.busy:
            return None
        try:
            settings, spec = choose(self.ctx.settings, name)
        except ModelError as exc:
            self.ctx.show_error(str(exc), f"{name} cannot be used")
            return None
        home = self.ctx.home

        def work(task: Task):
            def said(text: str) -> None:
                task.progress(0, 0, text)

            if spec.role == "llm":
                from persona.core.llm.factory import load_backend
                from persona.core.models.files import llm_file

                if not settings.llm_model:  # joined and checked, saying so, before loading
                    llm_file(spec, said)
                return "llm", load_backend(settings, home, progress=said)
            from persona.core.asr.whisper import WhisperTranscriber
            from persona.core.models.files import asr_folder

            asr_folder(spec, said)  # joined and checked before it is loaded
            transcriber = WhisperTranscriber.from_settings(settings)
            transcriber.warm_up()
            return "transcriber", transcriber

        def loaded(result) -> None:
            attr, component = result
            # Chosen again against the settings as they are now (another save may have
            # happened while the model loaded); only this role's setting changes.
            now, _ = choose(self.ctx.settings, name)
            self.ctx.save_settings(now, **{attr: component})
            if attr == "llm":  # read the persona's prompt now, so its KV state is cached
                start_task(lambda _t: self.ctx.pipeline.warm_up(asr=False, llm=True),
                           name=f"Warming up {spec.name}")
            what = "answer" if spec.role == "llm" else "recording"
            self.box.status.setText(f"{spec.name} is now the {ROLE_NAMES[spec.role]}; the "
                                    f"next {what} uses it.")
            self.ctx.notice.emit(f"Now using {spec.name}.")

        def failed(message: str) -> None:
            self.box.status.setText(f"Still using {getattr(self.ctx.settings, spec.role)}: "
                                    + message)
            self.ctx.show_error(message, f"{spec.name} could not be used")

        self.box.set_busy(True, f"Checking and loading {spec.name} … (the current model "
                                "answers until it is ready)")
        self.task = start_task(work, name=f"Loading {spec.name}", on_result=loaded,
                               on_error=failed, on_finished=self._finished,
                               on_progress=lambda _d, _t, text: self.box.status.setText(text))
        return self.task

    # ---------------------------------------------------------------- Import GGUF…
    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.box, "Import a GGUF chat model", str(Path.home()),
            "GGUF models (*.gguf);;All files (*)")
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> Task | None:
        """Copy, check and register ``path`` on a worker (see the module docstring)."""
        from persona.core.models.importer import import_gguf

        if self.busy:
            return None
        self._cancel = cancel = threading.Event()
        expected = self.box.expected.text().strip() or None

        def work(task: Task):
            try:
                return import_gguf(path, expected_sha256=expected, cancel=cancel,
                                   progress=lambda d, t: task.progress(d, t, "copying"))
            except CopyCancelled:
                return None

        def done(spec) -> None:
            if spec is None:
                self.box.status.setText(f"Import of {path.name} cancelled; nothing changed.")
                return
            self.refresh()
            self.box.expected.clear()
            self.box.status.setText(
                f"Imported {spec.name} ({params_text(spec.params)} parameters, "
                f"{size_text(spec.size)}). Use it with its Use button.")
            self.ctx.notice.emit(f"Imported {spec.name}.")

        def failed(message: str) -> None:
            self.box.status.setText(f"{path.name} was not imported; nothing changed.")
            self.ctx.show_error(message, "The model was not imported")

        self.box.set_busy(True, f"Checking and copying {path.name} into the model cache …",
                          cancellable=True)
        self.task = start_task(work, name=f"Importing {path.name}", on_result=done,
                               on_error=failed, on_finished=self._finished,
                               on_progress=lambda d, t, _x: self.box.set_progress(d, t))
        return self.task

    def cancel(self) -> None:
        self._cancel.set()
        self.box.cancel.setEnabled(False)
        self.box.status.setText("Cancelling …")

    def _finished(self) -> None:
        self.box.set_busy(False)
        self.refresh()

    def shutdown(self) -> None:
        self._cancel.set()
