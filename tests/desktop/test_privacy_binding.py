"""Leak 4 of issue 8 in the app: the Privacy view, like `persona privacy`, refuses a ledger
that is older than the adapter in use, and says how to recover."""

from __future__ import annotations

import shutil

from persona.core.paths import Home
from persona.privacy.ledger import Ledger
from tests.core.train.test_ledger_binding import charge, promote


def test_a_removed_ledger_is_reported_with_the_way_out(make_window, sample_home, qtbot):
    home = Home.resolve(sample_home)
    ledger = Ledger(home.ledger_file)
    promote(home, ledger, charge(ledger))
    shutil.rmtree(home.privacy_dir)
    window = make_window(sample_home, "talk")
    with qtbot.waitSignal(window.ctx.error, timeout=20_000) as blocker:
        window.show_view("privacy")
    title, message = blocker.args
    assert "older than" in message and "persona train --from-base" in message, (title, message)
