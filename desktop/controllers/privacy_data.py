"""What the Privacy & training view shows, read from the home off the UI thread.

The same readers as the CLI: ``persona privacy --json`` (the ledger's summary and the run
going now), ``persona eval`` (the current adapter's evaluation) and ``persona schedule
status --json``. Reading them is cheap but not free, so a snapshot is only rebuilt when the
files behind it changed (``signature``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from persona.core.paths import Home
from persona.core.settings import Settings
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.core.train.jobcontrol import training_status
from persona.core.train.ledger_binding import check_bindings
from persona.core.train.runner import checkpoints_dir
from persona.privacy.ledger import Ledger
from persona.privacy.report import build_summary


@dataclass
class PrivacySnapshot:
    summary: dict  # privacy.report.build_summary
    evaluation: AdapterMeta | None  # the current adapter's; None: the base model
    running: dict | None  # core.train.jobcontrol.training_status: {"pid", "started", ...}
    signature: tuple
    fidelity: dict | None = None  # core.evaluate.fidelity.load_report: the last `persona eval`
    audit: dict | None = None  # core.evaluate.membership.audit_fields: the adapter's audit


def signature(home: Home, settings: Settings) -> tuple:
    """Changes whenever the ledger, the current adapter, the run going or the budget do."""
    def stamp(path) -> tuple:
        try:
            st = os.stat(path)
            return st.st_mtime_ns, st.st_size
        except OSError:
            return (0, 0)

    try:
        current = os.readlink(home.adapter_dir)
    except OSError:
        current = None
    running = training_status(home)
    from persona.core.evaluate.fidelity import REPORT_FILE
    from persona.core.evaluate.membership import audit_path

    return (stamp(home.ledger_file), current, running and running["pid"],
            settings.privacy_budget, stamp(home.root / REPORT_FILE),
            stamp(audit_path(home.privacy_dir)))


def load_snapshot(home: Home, settings: Settings, *, unless: tuple | None = None
                  ) -> PrivacySnapshot | None:
    """The view's data; None when nothing changed since the snapshot signed ``unless``."""
    sig = signature(home, settings)
    if unless is not None and sig == unless:
        return None
    store = AdapterStore(home)
    ledger = Ledger(home.ledger_file, budget=settings.privacy_budget)
    # As `persona privacy`: a ledger that lost what the adapter spent would under-report.
    check_bindings(store, ledger, checkpoints_dir(home))
    version = store.current_version()
    from persona.core.evaluate.fidelity import load_report
    from persona.core.evaluate.membership import audit_fields

    return PrivacySnapshot(summary=build_summary(ledger),
                           evaluation=store.meta(version) if version else None,
                           running=training_status(home), signature=sig,
                           fidelity=load_report(home),
                           audit=audit_fields(home.privacy_dir, version))
