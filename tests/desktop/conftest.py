"""Desktop tests: real Qt widgets (offscreen, set in tests/conftest.py) over the real core.

``sample_home`` is a home with the sample persona imported once per session (real
embeddings in a real LanceDB); each test gets its own copy, so tests never see each other's
writes. ``window`` opens the main window on a home, as `persona app` does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from persona.core.paths import Home


@pytest.fixture(scope="package", autouse=True)
def gc_on_ui_thread(qapp):
    """As the app does (desktop/gc_pin.py): the cyclic collector runs on the UI thread only,
    never on a worker that happens to allocate (a Qt object destroyed there is a crash).
    Automatic collection is back on after the desktop tests."""
    from persona.desktop.gc_pin import pin_to_ui_thread, unpin

    pin_to_ui_thread(qapp)
    yield
    unpin()


@pytest.fixture(scope="session")
def sample_home_master(tmp_path_factory) -> Path:
    """The sample persona (diary + profile) imported into a home, once per session."""
    from persona.core.cli.demo import load_sample_persona
    from persona.core.pipeline import Pipeline
    from persona.core.settings import Settings, save_settings
    from tests.sample_home import ensure_heldout

    root = tmp_path_factory.mktemp("sample-home") / "home"
    root.mkdir()
    # Recordings kept, as the voice tests check them (the default keeps none once transcribed).
    save_settings(Settings(keep_recordings_days=None), root / "settings.yaml")
    pipe = Pipeline(root)
    load_sample_persona(pipe)
    ensure_heldout(pipe)  # the training tests train on it
    (root / "onboarded").touch()  # desktop onboarding already done (see onboarding_controller)
    return root


@pytest.fixture
def sample_home(sample_home_master, tmp_path) -> Path:
    """A private copy of the sample home for one test."""
    dest = tmp_path / "sample-home"
    shutil.copytree(sample_home_master, dest, symlinks=True)
    return dest


@pytest.fixture
def make_window(qtbot):
    """``make_window(home) -> MainWindow`` with its AppContext as ``window.ctx``."""
    from persona.desktop.context import AppContext
    from persona.desktop.window import MainWindow

    made = []

    def _make(home: Path, view: str = "talk"):
        ctx = AppContext(Home.resolve(home))
        window = MainWindow(ctx)
        qtbot.addWidget(window)
        window.show_view(view)
        window.show()
        made.append(window)
        return window

    yield _make
    from PySide6.QtCore import QThreadPool

    for w in made:
        for controller in w.controllers.values():
            shutdown = getattr(controller, "shutdown", None)
            if shutdown is not None:
                shutdown()
    # Background tasks must finish before their home folder is removed.
    QThreadPool.globalInstance().waitForDone(120_000)
