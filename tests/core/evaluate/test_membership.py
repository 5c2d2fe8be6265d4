"""The membership audit kept in the home: the attack's AUC, the records it scores, the file
(0600) and which adapter it speaks for. The loss maths is checked in
tests/benchmarks/test_mia.py; a real adapter's audit in tests/core/train/test_runner.py."""

from __future__ import annotations

import stat
from dataclasses import dataclass

import pytest

from persona.core.evaluate.membership import (
    audit_adapter,
    audit_fields,
    audit_line,
    audit_path,
    load_audit,
    sample,
    save_audit,
)


@dataclass(frozen=True)
class Ex:
    record_id: str
    loss: float


LOADS = []


def losses(_backend, _folder, _adapter, groups, _max_len):
    # The per-record losses an adapter would give: here carried by the examples themselves.
    LOADS.append(len(groups))
    return [[e.loss for e in group] for group in groups]


def test_the_audit_scores_members_against_held_out_records(tmp_path):
    members = [Ex(f"m{i}", 1.0 + i / 1000) for i in range(300)]
    outside = [Ex(f"o{i}", 2.0 + i / 100) for i in range(20)]
    audit = audit_adapter("torch", tmp_path, tmp_path, members, outside, version="v1",
                          run_id="r1", losses=losses)
    assert audit.membership_auc == 1.0  # every member has the lower loss: fully exposed
    assert LOADS[-1] == 2  # both sides scored with one load of the model
    assert (audit.members, audit.nonmembers) == (128, 20)  # members capped, the same ones
    assert sample(members) == sample(list(reversed(members)))
    assert audit_adapter("torch", tmp_path, tmp_path, members, [], losses=losses) is None


def test_the_audit_is_kept_private_and_only_shown_for_the_adapter_in_use(tmp_path):
    audit = audit_adapter("torch", tmp_path, tmp_path, [Ex("a", 1.0), Ex("b", 3.0)],
                          [Ex("c", 2.0)], version="v1", losses=losses)
    assert audit.membership_auc == pytest.approx(0.5)
    path = save_audit(tmp_path / "privacy", audit)
    assert path == audit_path(tmp_path / "privacy")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_audit(tmp_path / "privacy") == audit
    fields = audit_fields(tmp_path / "privacy", "v1")
    assert fields["membership_auc"] == 0.5 and fields["membership_audit"]["members"] == 2
    assert "AUC 0.500" in audit_line(fields)
    assert audit_fields(tmp_path / "privacy", "v0") == {"membership_auc": None,
                                                        "membership_audit": None}
    assert "none yet" in audit_line(audit_fields(tmp_path / "privacy", None))
    path.write_text("{not json")
    assert load_audit(tmp_path / "privacy") is None
