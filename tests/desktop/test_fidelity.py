"""The fidelity report and the membership audit in the Privacy & training view: Evaluate runs
the real evaluation on a worker (the default language model on llama.cpp, one sample and one
question of a few tokens), Cancel stops it and keeps the last report, and the audit's AUC is
shown for the adapter in use."""

from __future__ import annotations

import re
import stat

from persona.core.evaluate.fidelity import REPORT_FILE, FidelityOptions


def test_evaluate_shows_the_report_and_cancel_keeps_the_last_one(qtbot, make_window,
                                                                  sample_home):
    window = make_window(sample_home, "privacy")
    view, controller = window.page("privacy")
    box, fid = view.fidelity, controller.fidelity
    assert "No fidelity report yet" in box.report.text()
    assert "none yet" in box.audit.text()
    assert box.evaluate.isEnabled() and not box.cancel.isEnabled()

    # Cancel at once: nothing is generated, nothing saved.
    fid.options = FidelityOptions(samples=1, questions=1, max_new_tokens=8)
    box.evaluate.click()
    assert box.cancel.isEnabled() and not box.evaluate.isEnabled()
    box.cancel.click()
    qtbot.waitUntil(lambda: fid.task is None, timeout=60_000)
    assert not (sample_home / REPORT_FILE).exists()
    assert "No fidelity report yet" in box.report.text()

    box.evaluate.click()
    qtbot.waitUntil(lambda: fid.task is None, timeout=240_000)
    text = box.report.text()
    assert "Style like yours" in text and re.search(r"persona -?\d\.\d\d, base", text), text
    assert "of 1 questions" in text and "no adapter yet" in text
    path = sample_home / REPORT_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert box.evaluate.isEnabled() and not box.progress.isVisible()


def test_the_membership_audit_is_shown_in_words(qtbot):
    from persona.desktop.views.fidelity_box import FidelityBox

    box = FidelityBox()
    qtbot.addWidget(box)
    box.set_audit({"membership_auc": 0.53, "membership_audit": {
        "membership_auc": 0.53, "members": 128, "nonmembers": 12, "adapter": "v7"}})
    assert "AUC 0.53 (0.5 = chance)" in box.audit.text() and "adapter v7" in box.audit.text()
    assert box.audit.accessibleName() == "Membership audit"


def test_speak_as_me_answers_a_typed_message_in_the_persons_voice(qtbot, make_window,
                                                                  sample_home):
    from persona.core.settings import load_settings, save_settings

    path = sample_home / "settings.yaml"
    save_settings(load_settings(path).model_copy(update={"max_new_tokens": 24}), path)
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.mute.setChecked(True)
    assert view.as_me.isCheckable() and view.as_me.accessibleName() == "Speak as me"
    view.as_me.setChecked(True)
    with qtbot.waitSignal(controller.turn_finished, timeout=240_000) as done:
        view.entry.setText("Tomas asks if I can come to dinner on Friday. How would I answer?")
        view.entry.returnPressed.emit()
    reply = done.args[0]
    assert reply.text  # the real model's words, as the person
    # The "as me" prompt, not the assistant's.
    assert "write in Maya Lindqvist's own voice" in reply.messages[0]["content"]
    view.as_me.setChecked(False)
    assert controller.as_me is False
