"""Settings → Export persona… / Import persona…: the real core on a worker, with progress;
the passphrase dialog asks twice for a new bundle. (The file dialogs are modal and are the
only part not driven here: the tests call the controller's export_to / import_from, which
the buttons call with the dialogs' answers.)"""

from __future__ import annotations

import lancedb
from PySide6.QtWidgets import QDialogButtonBox

from persona.desktop.views.bundle_box import PassphraseDialog

PASSPHRASE = "a long enough passphrase"


def _rows(home):
    tbl = lancedb.connect(str(home / "memory.lancedb")).open_table("memories")
    return sorted(tbl.to_arrow().to_pylist(), key=lambda r: r["id"])


def _wait(qtbot, box, task) -> None:
    qtbot.waitUntil(lambda: task.done.is_set() and box.export_button.isEnabled(),
                    timeout=120_000)


def test_export_then_import_with_progress(make_window, sample_home, qtbot, tmp_path):
    window = make_window(sample_home, "settings")
    view, controller = window.page("settings")
    box, bundle = view.bundle, controller.bundle
    assert box.export_button.isEnabled() and box.import_button.isEnabled()
    out = tmp_path / "me.persona"
    task = bundle.export_to(out, PASSPHRASE)
    assert not box.export_button.isEnabled()  # one bundle job at a time
    assert box.progress.maximum() == 0  # busy until the first report
    _wait(qtbot, box, task)
    assert out.is_file() and "Exported" in box.status.text()
    assert box.progress.maximum() == 1000 and box.progress.value() > 0  # progress came

    target = tmp_path / "imported"
    task = bundle.import_from(out, target, PASSPHRASE)
    _wait(qtbot, box, task)
    assert "Imported" in box.status.text() and str(target) in box.status.text()
    assert _rows(target) == _rows(sample_home)
    assert (target / "profile.yaml").read_bytes() == (sample_home / "profile.yaml").read_bytes()


def test_a_wrong_passphrase_is_shown_and_nothing_is_written(make_window, sample_home, qtbot,
                                                            tmp_path):
    window = make_window(sample_home, "settings")
    view, controller = window.page("settings")
    out = tmp_path / "me.persona"
    _wait(qtbot, view.bundle, controller.bundle.export_to(out, PASSPHRASE))
    with qtbot.waitSignal(window.ctx.error, timeout=120_000) as blocker:
        task = controller.bundle.import_from(out, tmp_path / "new", "not the passphrase")
    _wait(qtbot, view.bundle, task)
    title, message = blocker.args
    assert "Importing" in title and "passphrase is wrong" in message
    assert "passphrase is wrong" in view.bundle.status.text()
    assert not (tmp_path / "new").exists()


def test_the_export_dialog_asks_twice(qtbot):
    dialog = PassphraseDialog(confirm=True)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.first.setText("short")
    assert not ok.isEnabled() and "at least 8" in dialog.hint.text()
    dialog.first.setText(PASSPHRASE)
    dialog.second.setText(PASSPHRASE + "x")
    assert not ok.isEnabled() and "same passphrase" in dialog.hint.text()
    dialog.second.setText(PASSPHRASE)
    assert ok.isEnabled() and dialog.passphrase() == PASSPHRASE
    opening = PassphraseDialog(confirm=False)
    qtbot.addWidget(opening)
    opening.first.setText("x")  # any passphrase may be tried when opening
    assert opening.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
