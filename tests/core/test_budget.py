"""Issue 8, leak 5: the lifetime budget is pinned in the ledger. `persona settings set
privacy_budget 100` used to raise it retroactively and silently; now every change is a logged
ledger event that `persona privacy` shows, and a raise needs --yes."""

from __future__ import annotations

import json

import yaml

from persona.core.cli import main
from persona.core.paths import Home
from persona.core.settings import load_settings
from persona.privacy.ledger import Ledger


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _ledger(home) -> Ledger:
    """The home's ledger with the budget its settings give (as the CLI opens it)."""
    budget = load_settings(home / "settings.yaml").privacy_budget
    return Ledger(Home.resolve(home).ledger_file, budget=budget)


def _ledger_with_a_run(home) -> Ledger:
    ledger = _ledger(home)
    run = ledger.begin_run(record_ids=["a", "b"], noise_multiplier=3.0, sample_rate=0.5,
                           steps=3, clip_norm=1.0, delta=1e-5, backend="torch", epochs=1.0)
    ledger.complete_run(run, steps_done=3)
    return ledger


def _budget(home) -> float:
    return _ledger(home).budget


def test_the_setting_no_longer_raises_the_budget_silently(home, capsys):
    _ledger_with_a_run(home)
    code, _, err = _run(capsys, "settings", "set", "privacy_budget", "100", "--home", str(home))
    assert code == 2 and "--yes" in err and "Nothing was changed" in err
    assert _budget(home) == 8.0
    assert load_settings(home / "settings.yaml").privacy_budget == 8.0
    # Editing settings.yaml by hand changes nothing either: the ledger's budget is pinned.
    (home / "settings.yaml").write_text(yaml.safe_dump({"privacy_budget": 100.0}))
    assert _budget(home) == 8.0
    code, out, _ = _run(capsys, "privacy", "--json", "--home", str(home))
    summary = json.loads(out)
    assert summary["budget"] == 8.0 and summary["budget_pinned"]


def test_changes_are_logged_events_shown_by_the_report(home, capsys):
    _ledger_with_a_run(home)
    code, out, _ = _run(capsys, "privacy", "budget", "4", "--home", str(home))
    assert code == 0 and "Lowered" in out and "recorded in the privacy ledger" in out
    code, _, err = _run(capsys, "privacy", "budget", "12", "--home", str(home))
    assert code == 2 and "--yes" in err and _budget(home) == 4.0
    code, out, _ = _run(capsys, "privacy", "budget", "12", "--yes", "--json", "--home", str(home))
    assert code == 0 and json.loads(out) == {"budget": 12.0, "previous": 4.0, "logged": True}
    # Lowering through the settings is allowed, and logged too.
    code, _, _ = _run(capsys, "settings", "set", "privacy_budget", "10", "--home", str(home))
    assert code == 0 and _budget(home) == 10.0
    assert load_settings(home / "settings.yaml").privacy_budget == 10.0

    code, out, _ = _run(capsys, "privacy", "--json", "--home", str(home))
    changes = json.loads(out)["budget_changes"]
    assert [(c["previous"], c["budget"]) for c in changes] == [(8.0, 4.0), (4.0, 12.0),
                                                               (12.0, 10.0)]
    assert [c["reason"] for c in changes] == ["persona privacy budget"] * 2 + [
        "persona settings set"]
    code, out, _ = _run(capsys, "privacy", "--home", str(home))
    assert "lowered from 8 to 4" in out and "raised from 4 to 12" in out
    assert "lifetime budget ε = 10 per record" in out
    # The events are in the hash-chained ledger file itself.
    events = [json.loads(x) for x in (home / "privacy" / "ledger.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("budget") == 3


def test_before_the_first_run_the_setting_is_what_the_ledger_pins(home, capsys):
    code, out, _ = _run(capsys, "privacy", "budget", "5", "--home", str(home))
    assert code == 0 and "pins it at the first run" in out
    assert not (home / "privacy" / "ledger.jsonl").exists()
    ledger = _ledger_with_a_run(home)
    assert ledger.budget == 5.0 and ledger.state().budget == 5.0
    code, _, err = _run(capsys, "privacy", "budget", "inf", "--yes", "--home", str(home))
    assert code == 2 and "finite" in err
