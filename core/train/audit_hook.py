"""The membership-inference audit at the end of a promoted training run.

The new adapter is attacked with the loss-threshold attack on the person's own records: the
records this run trained on against the held-out slice (core/evaluate/membership.py). The
result is kept in the home's privacy folder for `persona privacy` and the app. An audit that
fails is logged and never undoes the promotion: it reports on the adapter, it does not gate it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from persona.core.errors import PersonaError
from persona.core.paths import Home


def audit_after_run(home: Home, backend: str, model_folder: Path, adapter: Path,
                    trained: Sequence, heldout: Sequence, *, max_seq_len: int,
                    version: str | None, run_id: str | None,
                    log: Callable[[str], None]):
    """Audit ``adapter`` and save the result; the MembershipAudit, or None (logged)."""
    from persona.core.evaluate.membership import audit_adapter, save_audit

    try:
        audit = audit_adapter(backend, model_folder, adapter, trained, heldout,
                              max_seq_len=max_seq_len, version=version, run_id=run_id)
        if audit is None:
            log("(membership audit skipped: no trained or no held-out record to score)")
            return None
        save_audit(home.privacy_dir, audit)
    except (PersonaError, OSError, ValueError, RuntimeError) as exc:
        log(f"(the membership audit did not run: {exc})")
        return None
    log(f"membership audit: loss-attack AUC {audit.membership_auc:.3f} on "
        f"{audit.members} trained vs {audit.nonmembers} held-out records (0.5 = guessing)")
    return audit
