"""The Privacy & training view over a real home: Train now runs the real `persona train`
child process (the bundled SmolLM2, a tiny DP run on the sample persona), Cancel stops it
with the ledger still charged, a closed window's run is picked up by the next one, a run
held by another process disables Train now, and the schedule's hour follows the settings.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import pytest
from PySide6.QtWidgets import QMessageBox

from persona.core.paths import Home
from persona.core.settings import load_settings, save_settings
from persona.core.train.adapter_store import AdapterStore
from persona.desktop.workers.training_job import TrainingJob
from persona.privacy.ledger import Ledger
from persona.privacy.report import build_summary
from tests.core.llm.conftest import FAST_LLM, model_folder  # noqa: F401  (converts it once)

TRAIN_TIMEOUT_MS = 240_000


def _tiny(home, *, batch: int) -> None:
    """Settings for a run of a few seconds per step: 20 records, short sequences, 2 blocks
    of FAST_LLM. ``batch`` sets the steps: 20 records / batch per epoch."""
    settings = load_settings(home / "settings.yaml")
    save_settings(settings.model_copy(update={"train_batch_size": batch, "train_max_seq_len": 32,
                                              "train_lora_layers": 2, "llm": FAST_LLM}),
                  home / "settings.yaml")


def _controller(window):
    return window.page("privacy")[1]


def _press_train_now(qtbot, window) -> None:
    view, controller = window.page("privacy")
    qtbot.waitUntil(view.train_button.isEnabled, timeout=10_000)
    view.train_button.click()
    qtbot.waitUntil(lambda: controller.confirm_box is not None
                    and controller.confirm_box.isVisible())
    assert "ε" in controller.confirm_box.informativeText()  # says what it spends
    controller.confirm_train_button.click()
    qtbot.waitUntil(lambda: window.ctx.training_job.running, timeout=10_000)


@pytest.fixture(scope="module")
def train_home(sample_home_master, tmp_path_factory, model_folder):  # noqa: F811
    """One home for the training tests, in order: the cancelled run, then the one that
    resumes it and completes (so the model loads twice, not four times)."""
    home = tmp_path_factory.mktemp("privacy") / "home"
    shutil.copytree(sample_home_master, home, symlinks=True)
    _tiny(home, batch=2)  # about 10 steps: time to cancel after the first
    yield home
    # A failed test must not leave its run going (it lives in its own session).
    job = TrainingJob(Home.resolve(home))
    if job.attach_if_running():
        job.cancel(wait=True)


@pytest.mark.slow
def test_cancel_stops_the_run_and_the_ledger_keeps_the_charge(qtbot, make_window, train_home):
    window = make_window(train_home, "privacy")
    view, controller = window.page("privacy")
    assert view.runs.rowCount() == 0 and view.runs_empty.isVisibleTo(view)
    _press_train_now(qtbot, window)
    assert not view.train_button.isEnabled() and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: view.progress.value() >= 1, timeout=TRAIN_TIMEOUT_MS)
    last = window.ctx.training_job.last
    assert last.steps >= 5 and last.epsilon > 0
    assert f"Step {last.step} of {last.steps}" in view.progress_detail.text()
    assert "ε" in view.progress_detail.text()
    spent = last.epsilon

    # Closing the window and keeping the run going: it goes on in its own session, and the
    # next window follows it.
    job = window.ctx.training_job
    pid = job.pid
    job.detach()
    window.close()
    assert not job.running and os.path.exists(f"/proc/{pid}")
    window = make_window(train_home, "privacy")
    view, controller = window.page("privacy")
    job = window.ctx.training_job
    assert job.running and job.pid == pid
    assert view.cancel_button.isEnabled() and not view.train_button.isEnabled()

    with qtbot.waitSignal(job.finished, timeout=TRAIN_TIMEOUT_MS) as done:
        view.cancel_button.click()
    result = done.args[0]
    assert result.cancelled and result.error is None and result.stopped
    assert result.outcome["steps_done"] < result.outcome["steps"] == last.steps

    # The ledger keeps the whole run's charge (at least what was spent), and the adapter
    # (none yet: the base model) is untouched.
    summary = build_summary(Ledger(Home.resolve(train_home).ledger_file))
    (run,) = summary["runs"]
    assert run["status"] == "begun" and run["epsilon"] >= spent > 0
    assert summary["max_record_epsilon"] == pytest.approx(run["epsilon"])
    assert AdapterStore(Home.resolve(train_home)).current_version() is None
    qtbot.waitUntil(lambda: view.runs.rowCount() == 1 and view.train_button.isEnabled()
                    and "interrupted" in view.runs.item(0, 5).text(), timeout=10_000)
    assert "resumes" in view.train_state.text()
    assert "stopped" in window.banner.text


@pytest.mark.slow
def test_train_now_shows_progress_completes_and_the_view_updates(qtbot, make_window,
                                                                  train_home):
    window = make_window(train_home, "privacy")
    view, _ = window.page("privacy")
    before = len(Ledger(Home.resolve(train_home).ledger_file).runs())
    _press_train_now(qtbot, window)
    job = window.ctx.training_job
    steps = []
    job.progress.connect(lambda u: steps.append(u.step))
    with qtbot.waitSignal(job.finished, timeout=TRAIN_TIMEOUT_MS) as done:
        pass
    result = done.args[0]
    assert result.error is None and not result.cancelled, result.error
    out = result.outcome
    assert out["steps_done"] == out["steps"] and out["private"]
    assert steps and steps == sorted(steps) and steps[-1] == out["steps"]
    assert view.progress.value() == out["steps"]

    runs = build_summary(Ledger(Home.resolve(train_home).ledger_file))["runs"]
    # A cancelled run before it is resumed (same run, no second charge); alone, a new one.
    assert len(runs) == max(1, before) and runs[-1]["status"] == "completed"
    assert out["resumed"] == (before == 1)
    qtbot.waitUntil(lambda: view.runs.rowCount() == len(runs)
                    and "interrupted" not in view.runs.item(0, 5).text(), timeout=10_000)
    assert view.stats["runs"].text() == str(len(runs))
    assert view.stats["records"].text() == str(out["records"])
    if out["promoted"]:
        qtbot.waitUntil(lambda: "your persona" in view.evaluation.text(), timeout=10_000)
        assert f"{out['candidate_perplexity']:.2f}" in view.evaluation.text()
        # The `persona train` process audited the new adapter: its AUC is shown.
        qtbot.waitUntil(lambda: "AUC" in view.fidelity.audit.text(), timeout=10_000)
        assert f"AUC {out['membership_auc']:.2f}" in view.fidelity.audit.text()
    assert "Training finished" in window.banner.text
    assert view.train_button.isEnabled() and not view.cancel_button.isEnabled()


def test_a_run_held_by_another_process_disables_train_now(qtbot, make_window, sample_home):
    code = ("import sys\nfrom persona.core.paths import Home\n"
            "from persona.core.train.jobcontrol import RunLock, training_lock_path\n"
            f"with RunLock(training_lock_path(Home.resolve({str(sample_home)!r}))):\n"
            "    print('held', flush=True)\n    sys.stdin.read()\n")
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        window = make_window(sample_home, "privacy")
        view, _ = window.page("privacy")
        qtbot.waitUntil(lambda: f"pid {other.pid}" in view.train_state.text(), timeout=10_000)
        assert "another process" in view.train_state.text()
        assert not view.train_button.isEnabled() and not view.cancel_button.isEnabled()
    finally:
        other.stdin.close()  # the holder lets go and exits
        other.wait(timeout=30)
    qtbot.waitUntil(view.train_button.isEnabled, timeout=10_000)  # the 2-second refresh
    assert "No training run is going" in view.train_state.text()


def test_schedule_install_follows_the_hour_and_removes(qtbot, make_window, sample_home,
                                                       tmp_path, monkeypatch):
    # The user's own systemd folder is not touched: XDG_CONFIG_HOME points into the test's
    # folder (systemctl itself is absent here, so the timer is written but not enabled).
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    window = make_window(sample_home, "privacy")
    view, controller = window.page("privacy")
    qtbot.waitUntil(lambda: controller.schedule is not None)
    assert not controller.schedule["installed"] and not view.remove_button.isEnabled()
    assert "Not scheduled" in view.schedule_state.text()

    view.install_button.click()
    qtbot.waitUntil(lambda: controller.schedule["installed"], timeout=30_000)
    assert controller.schedule["hour"] == window.ctx.settings.retrain_hour == 3
    assert view.remove_button.isEnabled() and "03:00" in view.schedule_state.text()

    view.hour.setValue(5)  # saved to settings.yaml; the installed timer is installed again
    assert load_settings(sample_home / "settings.yaml").retrain_hour == 5
    qtbot.waitUntil(lambda: controller.schedule["hour"] == 5, timeout=30_000)
    assert "05:00" in view.schedule_state.text()

    view.remove_button.click()
    qtbot.waitUntil(lambda: not controller.schedule["installed"], timeout=30_000)
    assert not list((tmp_path / "config" / "systemd" / "user").glob("*.timer"))


def test_the_empty_home_explains_itself(qtbot, make_window, tmp_path):
    window = make_window(tmp_path / "home", "privacy")
    view, _ = window.page("privacy")
    qtbot.waitUntil(lambda: view.stats["runs"].text() == "0")
    assert view.runs_empty.isVisibleTo(view) and not view.runs.isVisibleTo(view)
    assert "No trained persona yet" in view.evaluation.text()
    assert view.train_button.isEnabled() and view.train_button.accessibleName() == "Train now"
    # Cancelling the confirmation starts nothing.
    view.train_button.click()
    controller = _controller(window)
    qtbot.waitUntil(lambda: controller.confirm_box is not None
                    and controller.confirm_box.isVisible())
    controller.confirm_box.button(QMessageBox.StandardButton.Cancel).click()
    assert not window.ctx.training_job.running


def test_the_ledger_fills_the_charts_and_counts_spent_and_non_private_memories(
        qtbot, make_window, sample_home):
    # A ledger as `persona train` and `persona privacy budget` leave it, written through the
    # real ledger API: six memories in a private run, two of them in a second one, one memory
    # in a non-private run (σ = 0, which the ledger records as ε = ∞), then the lifetime
    # budget lowered to 5 as `persona privacy budget 5` does (a logged ledger event and the
    # setting), which puts the twice-trained memories past it.
    from persona.core.budget import change_budget

    home = Home.resolve(sample_home)
    ledger = Ledger(home.ledger_file)
    run = {"clip_norm": 1.0, "delta": 1e-5, "backend": "torch", "epochs": 1.0,
           "sample_rate": 0.5, "steps": 10}
    for ids, sigma in ((["m1", "m2", "m3", "m4", "m5", "m6"], 2.0), (["m1", "m2"], 2.0),
                       (["m7"], 0.0)):
        ledger.complete_run(ledger.begin_run(record_ids=ids, noise_multiplier=sigma, **run),
                            steps_done=10)
    change_budget(home, budget=5.0, confirmed=False, reason="a test")
    eps = ledger.record_epsilons()
    once, twice = eps["m3"], eps["m1"]
    assert 4.375 > once > 3.75 and twice > 5.0 and math.isinf(eps["m7"])  # as planned

    window = make_window(sample_home, "privacy")
    view, _ = window.page("privacy")
    qtbot.waitUntil(lambda: view.stats["runs"].text() == "3", timeout=10_000)
    assert view.stats["records"].text() == "7"
    # At their budget: the two past the lowered budget and the non-private one (ε = ∞).
    assert view.stats["exhausted"].text() == "3"
    # One run without a DP guarantee, counted and flagged as a warning.
    assert view.stats["private"].text() == "1" and view.stats["private"].property("warning")
    newest = [view.runs.item(0, col).text() for col in range(view.runs.columnCount())]
    assert newest[4] == "∞ (non-private)" and "non-private" in newest[5]
    assert all("non-private" not in view.runs.item(row, 5).text() for row in (1, 2))
    assert not view.notes.isHidden() and "non-private" in view.notes.text()

    # ε per memory: eight equal bins over [0, 5], then past the budget.
    hist = view.histogram
    assert "lifetime budget 5" in hist.title
    assert len(hist.labels) == 9 and hist.labels[-1] == "> 5"
    (counts,) = hist.series
    assert sum(counts.values) == 7
    assert counts.values[6] == 4 and hist.labels[6] == "3.75–4.375"  # the memories trained once
    assert counts.values[-1] == 3  # past the budget: trained twice, or without noise
    assert not any(counts.values[i] for i in (0, 1, 2, 3, 4, 5, 7))

    # Budget left: none for the most-spent memory (ε = ∞), 5 − ε for the median one (trained
    # once: four of the seven), all of it for a new memory.
    budget = view.budget_chart
    assert budget.labels == ["most spent", "median", "new"] and budget.y_range == (0.0, 5.0)
    (left,) = budget.series
    assert left.values[0] == 0.0 and left.values[2] == 5.0
    assert left.values[1] == pytest.approx(5.0 - once)
    assert "3 points" in budget.accessibleDescription()


def test_a_run_left_going_without_its_progress_file_is_still_followed(qtbot, make_window,
                                                                      sample_home):
    """An earlier window's run whose progress file was deleted (say, with the logs): the
    page opens, shows the run as going, and notices its end (it used to raise while the
    page was built)."""
    import json

    from persona.desktop.workers.training_job import OUT_NAME, PID_NAME

    stand_in = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()",
                                 "persona-train-stand-in"], stdin=subprocess.PIPE)
    try:
        logs = sample_home / "logs"
        logs.mkdir(exist_ok=True)
        (logs / OUT_NAME).unlink(missing_ok=True)
        (logs / PID_NAME).write_text(json.dumps({"pid": stand_in.pid, "started": None}))
        window = make_window(sample_home, "privacy")
        job = window.ctx.training_job
        assert job.running and job.pid == stand_in.pid
        stand_in.stdin.close()  # the run ends (and is reaped, as its own parent would)
        stand_in.wait(30)
        qtbot.waitUntil(lambda: not job.running, timeout=10_000)
    finally:
        stand_in.kill()
        stand_in.wait(30)
