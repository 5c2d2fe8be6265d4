""""Speak as me": the prompt that answers in the person's voice, and Pipeline.reply(as_me=True)
over a real home (real LanceDB and embedder; the model is scripted to show what reaches it
and that a reply as the person is not cut by the grounding gate)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from persona.core.errors import TextError
from persona.core.evaluate.stylometry import profile
from persona.core.memory.schema import Hit, Memory
from persona.core.persona.as_me import as_me_messages, no_repeats, style_hints, style_of
from persona.core.persona.fields import set_values
from persona.core.persona.profile import Profile
from persona.core.pipeline import Pipeline
from tests.core.scripted_llm import ScriptedLLM

NOW = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
MINE = ("I love my cat! I really do. Ha, she is mad. I'm off to the fjord again! "
        "I love my cat. So tired today. I love my cat!")


def test_the_prompt_speaks_as_the_person_in_their_style():
    p = Profile()
    p.identity.name = "Maya"
    p.demographics.location = "Bergen"
    hit = Hit(Memory(text="Tomas invited me to his wedding in Porto.", ts=NOW), 0.9)
    msgs = as_me_messages(p, [hit], "How would I answer Tomas's invitation?", profile(MINE),
                          now=NOW)
    system, user = msgs[0]["content"], msgs[1]["content"]
    assert "write in Maya's own voice" in system and "first person" in system
    assert "Bergen" in system
    assert "short sentences" in system and "exclamation marks" in system
    assert '"i love my cat"' in system  # a favourite phrase of theirs
    assert "Tomas invited me" in user and user.endswith("How would I answer Tomas's invitation?")
    with pytest.raises(TextError):
        as_me_messages(p, [], "   ")
    assert style_hints(None) == "" and style_of(["", " "]) is None


def test_reply_as_me_uses_that_prompt_and_is_not_gated(tmp_path):
    pipe = Pipeline(tmp_path / "home")
    set_values(pipe.home.profile_file, {"identity.name": "Maya"})
    pipe.store.add([Memory(text=MINE, source="text"),
                    Memory(text="Tomas invited me to his wedding in Porto.", source="text")])
    # "Anna" is in no memory: the assistant's reply would be cut there, a rehearsal is not.
    said = "Thanks Anna, I'd love to come to Porto!"
    pipe.__dict__["llm"] = llm = ScriptedLLM(said)
    out = pipe.reply("How would I answer Tomas's invitation?", as_me=True, store_turns=False)
    assert out.text == said
    system = llm.prompts[0][0]["content"]
    assert "write in Maya's own voice" in system and "Style:" in system
    assert "Tomas invited me" in llm.prompts[0][-1]["content"]
    pipe.reply("Who invited me to a wedding?", store_turns=False)
    assert "own voice" not in llm.prompts[-1][0]["content"]  # the normal prompt


def test_a_reply_as_me_ends_before_a_sentence_it_said_already(tmp_path):
    pipe = Pipeline(tmp_path / "home")
    loop = "I can come on Friday. " + "I will be a witness. " * 6 + "Bye."
    pipe.__dict__["llm"] = llm = ScriptedLLM(loop)
    out = pipe.reply("Can I come to dinner?", as_me=True, store_turns=False)
    assert out.text == "I can come on Friday. I will be a witness."
    assert llm.read < len(llm.pieces)  # generation stopped at the repeat
    assert "".join(no_repeats(["Yes! ", "Yes", "! Fine"])) == "Yes! "
    assert "".join(no_repeats(["No end"])) == "No end"
