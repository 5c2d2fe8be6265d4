"""Names Persona suggests from the memories, and `persona names suggest|confirm|list` on a
real home (real LanceDB, the bundled embedder, real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from persona.privacy.names import suggest_names
from persona.privacy.redaction import redact

ROOT = Path(__file__).resolve().parents[2]
NOTES = [
    "Lunch with Priya at the canal. Priya had the soup.",
    "I called Okonkwo about the boiler; Okonkwo comes on Friday.",
    "Walked with Priya and the dog. Priya's knee is better.",
    "Monday: the rose bushes need water. I love a rose in June.",
    "Met Rose at the shop, and later Rose again.",
    "Okay. We took the train to London; London was grey. Later Priya phoned.",
]


def test_candidates_follow_the_documented_rules():
    found = {c.name: c.count for c in suggest_names(NOTES)}
    # Not at a sentence's start; "Priya's" counts as Priya.
    assert found["Priya"] == 3 and found["Okonkwo"] == 2
    assert "London" in found  # a place: proposed, the person decides
    assert "Rose" not in found  # written lower case as often: a common word
    assert "Monday" not in found and "Okay" not in found and "Lunch" not in found
    assert [c.name for c in suggest_names(NOTES)] == ["Priya", "London", "Okonkwo"]
    assert [c.name for c in suggest_names(NOTES, known=["priya"])] == ["London", "Okonkwo"]
    assert not suggest_names(NOTES, min_count=5)


def persona(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "persona.core.cli", *args, "--home", str(home.root)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_suggest_confirm_list_on_a_real_home(tmp_path):
    from persona.core.memory.embed import Embedder
    from persona.core.memory.schema import Memory
    from persona.core.memory.store import MemoryStore
    from persona.core.paths import Home

    home = Home.resolve(tmp_path / "home").ensure()
    store = MemoryStore(home.memory_dir, Embedder())
    store.add([Memory(t, source="text") for t in NOTES]
              + [Memory("Say hi to Zebedee for me, and to Zebedee's sister.", source="chat",
                        speaker="assistant", conversation_id="c", id="a1")])
    out = persona(home, "names", "suggest", "--json")
    assert out.returncode == 0, out.stderr
    names = [c["name"] for c in json.loads(out.stdout)["candidates"]]
    assert names == ["Priya", "London", "Okonkwo"]  # the person's words only: no Zebedee

    out = persona(home, "names", "confirm", "Priya", "Okonkwo", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["redact_names"] == ["Priya", "Okonkwo"]
    out = persona(home, "names", "list", "--json")
    assert json.loads(out.stdout)["redact_names"] == ["Priya", "Okonkwo"]
    out = persona(home, "names", "suggest", "--json")
    assert "Priya" not in [c["name"] for c in json.loads(out.stdout)["candidates"]]

    bad = persona(home, "names", "confirm", "X")
    assert bad.returncode != 0 and "two letters" in bad.stderr and "Traceback" not in bad.stderr
    out = persona(home, "names", "list")
    assert out.stdout.split() == ["Priya", "Okonkwo"]  # the bad name lost nothing

    # Training redacts what was confirmed.
    from persona.core.settings import load_settings
    from persona.core.train.dataset import build_dataset

    names = load_settings(home.settings_file).redact_names
    ds = build_dataset(store.all_memories(), names=names, heldout_fraction=0.0)
    assert all("Priya" not in ex.target and "Okonkwo" not in ex.target for ex in ds.train)
    assert redact("Priya's bike", names=names).text == "[NAME]'s bike"
