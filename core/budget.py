"""Changing the lifetime privacy budget: a logged ledger event, mirrored in the settings.

The budget is pinned in the privacy ledger when its first run creates it; from then on the
``privacy_budget`` setting only mirrors it. ``persona privacy budget X [--yes]``, ``persona
settings set privacy_budget X`` and the app's Settings all come here, so no path changes it
silently: every change after the first run is a 'budget' event that ``persona privacy``
shows. Lowering is always allowed; raising needs the person's confirmation, because it lets
records that have spent their budget be trained on again.
"""

from __future__ import annotations

from dataclasses import dataclass

from persona.core.errors import PrivacyError
from persona.core.paths import Home
from persona.core.settings import Settings, load_settings, save_settings


@dataclass
class BudgetChange:
    budget: float
    previous: float
    logged: bool  # a ledger event was written (False: no ledger yet, or no change)

    def message(self) -> str:
        if self.budget == self.previous:
            return f"The lifetime privacy budget stays ε = {self.budget:g} per record."
        how = "Raised" if self.budget > self.previous else "Lowered"
        where = ("recorded in the privacy ledger" if self.logged else
                 "no training has run yet; the ledger pins it at the first run")
        return (f"{how} the lifetime privacy budget from ε = {self.previous:g} to "
                f"{self.budget:g} per record ({where}).")


def change_budget(home: Home, *, budget: float, confirmed: bool, reason: str = "",
                  settings: Settings | None = None) -> BudgetChange:
    """Set the lifetime budget to ``budget``: a ledger event (once a ledger exists) and the
    setting. Raising without ``confirmed`` raises ``PrivacyError`` and changes nothing."""
    import math

    from persona.privacy.ledger import Ledger

    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
        raise PrivacyError(f"The lifetime privacy budget must be a finite ε > 0, not {budget!r};"
                           " the default is 8.")
    settings = settings or load_settings(home.settings_file)
    ledger = Ledger(home.ledger_file, budget=settings.privacy_budget)
    previous = ledger.budget
    if budget > previous and not confirmed:
        raise PrivacyError(
            f"Raising the lifetime privacy budget from ε = {previous:g} to {budget:g} lets your "
            "words be trained on more, and what is spent cannot be given back. Confirm it with "
            f"`persona privacy budget {budget:g} --yes` (or in the app's Settings). Nothing "
            "was changed.")
    event = ledger.set_budget(budget=budget, allow_raise=confirmed, reason=reason)
    settings.privacy_budget = float(budget)  # the mirror, validated by the settings model
    save_settings(settings, home.settings_file)
    return BudgetChange(budget=float(budget), previous=previous, logged=event is not None)
