"""Thumbs on Persona's replies and the side-by-side choice card in the Talk view, over the
real core (LanceDB, the embedder, the reward model); no language model is needed here (the
two replies of a comparison come from the real model in tests/core/prefs/)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.core.prefs.bestof import Candidate
from persona.core.prefs.replies import SideBySide
from persona.core.prefs.store import ChoiceLog


def _with_conversation(home) -> Memory:
    pipe = Pipeline(home)
    turns = [Memory(text="Where does my sister live?", source="chat", speaker="person",
                    conversation_id="c1"),
             Memory(text="Your sister Ana lives in Lisbon.", source="chat",
                    speaker="assistant", conversation_id="c1")]
    pipe._remember_all([(m, None) for m in turns])
    return turns[1]


def test_thumbs_on_a_reply_by_mouse_and_keyboard_are_kept(sample_home, make_window, qtbot):
    reply = _with_conversation(sample_home)
    window = make_window(sample_home)
    view, controller = window.page("talk")
    qtbot.waitUntil(lambda: len(view.turns()) == 2, timeout=30_000)
    bubble = view.turns()[1]
    assert bubble.thumbs.isVisible() and not view.turns()[0].thumbs.isVisible()
    assert bubble.thumbs.up.accessibleName() == "Good reply"
    assert bubble.thumbs.down.focusPolicy() & Qt.FocusPolicy.TabFocus
    with qtbot.waitSignal(controller.prefs.recorded, timeout=60_000):
        qtbot.mouseClick(bubble.thumbs.up, Qt.MouseButton.LeftButton)
    (vote,), _ = ChoiceLog(sample_home).current()
    assert (vote.vote, vote.reply_id, vote.question) == (1, reply.id,
                                                         "Where does my sister live?")
    view.window().activateWindow()
    view.mic.setFocus()
    qtbot.waitUntil(view.mic.hasFocus)
    with qtbot.waitSignal(controller.prefs.recorded, timeout=60_000):
        qtbot.keyClick(view.mic, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert bubble.thumbs.vote == -1 and bubble.thumbs.down.isChecked()
    (vote,), _ = ChoiceLog(sample_home).current()
    assert vote.vote == -1


def test_a_pick_on_the_choice_card_becomes_a_pair(sample_home, make_window, qtbot):
    window = make_window(sample_home)
    view, controller = window.page("talk")
    shown = SideBySide("Where does my sister live?",
                       Candidate("Ana lives in Lisbon.", 1.0, False, "Ana lives in Lisbon."),
                       Candidate("Your sister Ana lives in Lisbon, where she works as a nurse.",
                                 1.0, True, "Your sister Ana lives in Lisbon, where she works "
                                            "as a nurse."))
    with qtbot.waitSignal(controller.prefs.card_shown) as shown_signal:
        controller.prefs._show_card(shown)
    card = shown_signal.args[0]
    qtbot.waitUntil(card.isVisible)
    assert card.buttons[1].accessibleName() == "Reply B is better"
    view.window().activateWindow()
    card.setFocus()
    qtbot.waitUntil(card.hasFocus)
    with qtbot.waitSignal(controller.prefs.recorded, timeout=60_000):
        qtbot.keyClick(card, Qt.Key.Key_2)
    assert not card.skip.isEnabled() and "B" in card.outcome.text()
    _, (kept,) = ChoiceLog(sample_home).current()
    assert (kept.chosen, kept.rejected, kept.how) == (shown.b.text, shown.a.text,
                                                      "side-by-side")


def test_every_nth_typed_reply_offers_a_comparison(sample_home, make_window, qtbot):
    window = make_window(sample_home)
    _, controller = window.page("talk")
    asked: list[str] = []
    controller.prefs.compare = asked.append  # only the count is checked here, not the replies
    every = controller.ctx.settings.compare_every
    for i in range(2 * every):
        controller.prefs.after_reply(f"question {i}", typed=True)
        controller.prefs.after_reply("spoken", typed=False)  # spoken turns do not count
    assert asked == [f"question {every - 1}", f"question {2 * every - 1}"]


def test_a_reply_from_before_shows_the_vote_it_has(sample_home, make_window, qtbot):
    from persona.core.prefs.store import thumb

    reply = _with_conversation(sample_home)
    ChoiceLog(sample_home).append(thumb("Where does my sister live?", reply.text, -1,
                                        reply_id=reply.id))
    window = make_window(sample_home)
    view, _ = window.page("talk")
    qtbot.waitUntil(lambda: len(view.turns()) == 2, timeout=30_000)
    thumbs = view.turns()[1].thumbs
    assert thumbs.vote == -1 and thumbs.down.isChecked() and not thumbs.up.isChecked()


def test_the_reply_style_learnt_from_choices_is_marked_so_in_the_persona_view(
        sample_home, make_window, qtbot):
    from persona.core.persona.fields import set_values
    from persona.core.persona.profile import load_induced
    from persona.core.prefs.summary import write_style

    profile = sample_home / "profile.yaml"
    set_values(profile, {"preference.reply_style": ""})  # as if the person had left it empty
    assert write_style(profile, "short and direct") == "written"
    assert load_induced(profile)["preference.reply_style"] == "short and direct"
    window = make_window(sample_home, view="persona")
    view, _ = window.page("persona")
    qtbot.waitUntil(lambda: "preference.reply_style" in view.badges, timeout=30_000)
    badge = view.badges["preference.reply_style"]
    qtbot.waitUntil(badge.isVisible, timeout=30_000)
    assert badge.text() == "from your choices" and "choices" in badge.toolTip()


@pytest.mark.slow
def test_compare_replies_shows_two_replies_from_the_model(sample_home, make_window, qtbot):
    """The real default model writes both replies, on the turn pool after the turn."""
    from persona.core.settings import load_settings, save_settings

    path = sample_home / "settings.yaml"
    save_settings(load_settings(path).model_copy(update={"max_new_tokens": 32}), path)
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.mute.setChecked(True)
    with qtbot.waitSignal(controller.turn_finished, timeout=240_000):
        view.entry.setText("Where does my sister live?")
        view.entry.returnPressed.emit()
    assert view.turns()[1].thumbs.isVisible()
    with qtbot.waitSignal(controller.prefs.card_shown, timeout=240_000) as shown:
        view.compare.click()
    card = shown.args[0]
    a, b = (label.text() for label in card.texts)
    assert a and b and a != b
    assert "sister" in card.findChild(QLabel, "choiceTitle").text()
