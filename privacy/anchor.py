"""Where the privacy ledger stood: a (sequence number, head checksum) pair, and the check that
a ledger still contains it.

The ledger (``privacy/journal.py``) is append-only and hash-chained: event ``seq`` carries
the checksum of everything before it. So a ledger "contains" an anchor exactly when its
event at ``anchor.seq`` has ``anchor.head`` as checksum, and then it holds, unchanged, every
event up to that point. An adapter or a checkpoint stores the anchor of the ledger it was
trained under; a ledger that is shorter (its tail cut, the folder deleted, an older copy
restored) or different (another ledger put in its place) fails the check, because it
could no longer account for what that adapter spent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from persona.core.errors import PrivacyError
from persona.privacy.journal import Journal


@dataclass(frozen=True)
class LedgerAnchor:
    """The ledger's last event when something was bound to it."""

    seq: int  # the event's position (0-based)
    head: str  # its checksum, "sha256:…"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> LedgerAnchor:
        """The anchor saved by ``to_dict``; PrivacyError if it is not one."""
        if (not isinstance(data, dict) or isinstance(data.get("seq"), bool)
                or not isinstance(data.get("seq"), int) or data["seq"] < 0
                or not isinstance(data.get("head"), str)
                or not data["head"].startswith("sha256:")):
            raise PrivacyError(f"{data!r} is not a privacy-ledger anchor (seq, head).")
        return cls(seq=data["seq"], head=data["head"])


def head_anchor(journal: Journal) -> LedgerAnchor | None:
    """The anchor of the ledger's last event, or None for an empty (or missing) ledger."""
    events = journal.read()
    if not events:
        return None
    return LedgerAnchor(seq=len(events) - 1, head=events[-1]["checksum"])


def anchor_problem(journal: Journal, anchor: LedgerAnchor) -> str | None:
    """Why the ledger does not contain ``anchor`` (a phrase), or None when it does."""
    events = journal.read()
    if not events:
        return (f"the privacy ledger {journal.path} is missing or empty, but it had "
                f"{anchor.seq + 1} events")
    if len(events) <= anchor.seq:
        return (f"the privacy ledger {journal.path} has {len(events)} events, fewer than "
                f"the {anchor.seq + 1} it had (its tail was cut, or an older copy restored)")
    if events[anchor.seq]["checksum"] != anchor.head:
        return (f"the privacy ledger {journal.path} differs from the one it was (event "
                f"{anchor.seq} is not the same: another ledger was put in its place)")
    return None
