"""The app's "What I can answer well" panel (Persona view) and the marks on reply sentences
no memory supports (Talk view), over the real core and the sample persona."""

from __future__ import annotations

from PySide6.QtCore import Qt

from persona.desktop.widgets.bubble import Bubble
from persona.desktop.widgets.claim_marks import NOTE
from tests.core.scripted_llm import ScriptedLLM


def test_the_persona_view_shows_what_it_can_answer_well(sample_home, make_window, qtbot):
    window = make_window(sample_home, "persona")
    view, controller = window.page("persona")
    panel = view.topics
    qtbot.waitUntil(lambda: bool(panel.rows), timeout=60_000)
    report = controller.topics.report
    assert report.total >= 23 and len(panel.rows) == len(report.topics) >= 2
    title, bar, text = panel.rows[0]
    assert title.text() == report.topics[0].name and text.text().startswith("I know ")
    assert "memories" in panel.summary.text()


def test_a_reply_bubble_marks_the_unsupported_sentence(qtbot):
    bubble = Bubble("assistant", "Your cat is Miso. She is a <Siamese> & loves tuna.")
    qtbot.addWidget(bubble)
    bubble.show()
    bubble.mark_unsupported(["She is a <Siamese> & loves tuna."])
    assert bubble.claims_note.isVisible() and bubble.claims_note.text() == NOTE
    assert "underline" in bubble.text_label.text() and "&lt;Siamese&gt;" in bubble.text_label.text()
    assert "No memory supports this" in bubble.text_label.toolTip()
    assert bubble.text == "Your cat is Miso. She is a <Siamese> & loves tuna."  # plain text
    bubble.mark_unsupported([])
    assert not bubble.claims_note.isVisible() and bubble.text_label.text() == bubble.text


def test_a_typed_question_gets_its_unsupported_sentence_marked(sample_home, make_window,
                                                               qtbot):
    # A scripted model: a real small model cannot be made to add an unremembered detail on
    # demand. It passes the grounding gate (no new names or numbers); the claim check flags it.
    window = make_window(sample_home)
    view, controller = window.page("talk")
    view.mute.setChecked(True)
    window.ctx.pipeline.__dict__["llm"] = ScriptedLLM(
        "Your sister Ingrid lives in Lisbon. She also teaches yoga at weekends.")
    with qtbot.waitSignal(controller.turn_finished, timeout=120_000) as done:
        view.entry.setText("Where does my sister live?")
        view.entry.returnPressed.emit()
    reply = done.args[0]
    assert [c.sentence for c in reply.unsupported] == ["She also teaches yoga at weekends."]
    bubble = view.turns()[1]
    assert bubble.unsupported == ["She also teaches yoga at weekends."]
    assert bubble.claims_note.isVisible()


def test_test_me_asks_questions_per_topic_and_shows_the_score(sample_home, make_window,
                                                             qtbot):
    # A scripted model stands in for the slow real one: this is about the panel's wiring.
    window = make_window(sample_home, "persona")
    view, controller = window.page("persona")
    panel = view.topics
    qtbot.waitUntil(lambda: bool(panel.rows), timeout=60_000)
    window.ctx.pipeline.__dict__["llm"] = ScriptedLLM("Your sister Ingrid lives in Lisbon.")
    qtbot.mouseClick(panel.measure, Qt.MouseButton.LeftButton)
    assert panel.measure.text() == "Cancel"
    qtbot.waitUntil(lambda: panel.measure.text() == "Test me", timeout=120_000)
    scored = [t for t in controller.topics.report.topics if t.qa_questions]
    assert scored, "no topic got a test question"
    shown = [text.text() for _, _, text in panel.rows]
    assert any("test questions right" in s for s in shown)
