"""The `persona` subcommands of on-device training: train, eval, privacy, retrain,
rollback and schedule (see core/cli/__init__.py for their arguments)."""

from __future__ import annotations

import math
import sys
import time
from argparse import Namespace
from contextlib import contextmanager
from pathlib import Path

from persona.core.cli.report import emit_json, info
from persona.core.errors import PersonaError
from persona.core.paths import Home
from persona.core.settings import load_settings


def _home_settings(args: Namespace):
    home = Home.resolve(args.home).ensure()
    return home, load_settings(home.settings_file)


def _options(args: Namespace, settings):
    from persona.core.train.runner import TrainOptions

    return TrainOptions.from_settings(settings, epsilon=args.epsilon, delta=args.delta,
                                      epochs=args.epochs, backend=args.backend,
                                      dry_run=args.dry_run,
                                      from_base=getattr(args, "from_base", False))


def _progress_printer(quiet: bool):
    """A progress bar for training: steps, loss and ε so far."""
    from tqdm import tqdm

    bar = None

    def update(p) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=p.steps, desc="train", unit="step", file=sys.stderr, disable=quiet)
        bar.n = p.step
        eps = "inf (non-private)" if math.isinf(p.epsilon) else f"{p.epsilon:.2f}"
        loss = "-" if math.isnan(p.loss) else f"{p.loss:.3f}"
        bar.set_postfix_str(f"loss {loss}, ε {eps}", refresh=True)

    def close() -> None:
        if bar is not None:
            bar.close()

    return update, close


@contextmanager
def _reporter(args: Namespace, log):
    """(on_progress, log, events) for a run: a progress bar on stderr and ``log``, or with
    ``--progress-jsonl`` JSON lines on stdout (core/train/events.py), ending in an error
    event if the run fails. ``events`` is None without the flag."""
    if not getattr(args, "progress_jsonl", False):
        update, close = _progress_printer(args.json)
        try:
            yield update, log, None
        finally:
            close()
        return
    from persona.core.train.events import JsonlEvents

    events = JsonlEvents()

    def both(msg: str) -> None:
        log(msg)
        events.log(msg)

    try:
        yield events.progress, both, events
    except PersonaError as exc:
        events.error(str(exc))
        raise
    except Exception as exc:  # a bug: the traceback goes to stderr, the reader gets a line
        events.error(f"training failed unexpectedly ({type(exc).__name__}: {exc})")
        raise


def _outcome_dict(outcome) -> dict:
    p, ev, r = outcome.plan, outcome.evaluation, outcome.result
    return {
        "backend": outcome.backend, "run_id": outcome.run_id, "resumed": outcome.resumed,
        "private": p.private, "epsilon": p.run_epsilon if p.private else "inf",
        "delta": p.delta, "noise_multiplier": p.noise_multiplier, "sample_rate": p.sample_rate,
        "steps": p.steps, "records": len(p.eligible_ids), "records_left_out": p.excluded,
        "steps_done": r.steps_done if r else 0, "stopped": bool(r and r.stopped),
        "resumed_from": r.resumed_from if r else 0,
        "optimizer_continued": bool(r and r.optimizer_continued),
        "base_perplexity": ev.base_perplexity if ev else None,
        "reference_perplexity": ev.reference_perplexity if ev else None,
        "candidate_perplexity": ev.candidate_perplexity if ev else None,
        "promoted": outcome.promoted, "version": outcome.version, "reason": outcome.reason,
        "redaction": outcome.redaction, "summary": outcome.summary_line(),
        "membership_auc": outcome.membership.membership_auc if outcome.membership else None,
    }


def cmd_train(args: Namespace) -> int:
    from persona.core.train.jobcontrol import GracefulStop
    from persona.core.train.runner import run_training
    from persona.privacy.report import plan_lines

    home, settings = _home_settings(args)
    # SIGTERM (the desktop's Cancel) checkpoints and stops between steps; the run was
    # charged in full when it began, and a stopped run is never promoted.
    with _reporter(args, info) as (update, log, events), GracefulStop() as stop:
        outcome = run_training(home, settings, _options(args, settings), on_progress=update,
                               should_stop=stop, log=log)
    if events is not None:
        events.done(_outcome_dict(outcome))
    elif args.json:
        emit_json(_outcome_dict(outcome))
    elif args.dry_run:
        print("\n".join(plan_lines(outcome.plan)))
        print("Dry run: nothing was trained and nothing was charged to the ledger.")
    else:
        if outcome.plan.excluded:
            print(f"{outcome.plan.excluded} records were left out: they cannot afford this "
                  "run within their lifetime privacy budget.")
        print(outcome.summary_line())
    return 0


def cmd_retrain(args: Namespace) -> int:
    """The nightly job: one at a time, at low priority, on mains power, stoppable."""
    from persona.core.train.jobcontrol import (
        GracefulStop,
        RunLock,
        lower_priority,
        training_lock_path,
        wait_for_mains,
    )
    from persona.core.train.runner import TrainOptions, interrupted_run, run_training

    home, settings = _home_settings(args)
    log_path = home.logs_dir / "retrain.log"

    def log(msg: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {msg}\n")
        info(msg)

    with _reporter(args, log) as (update, log, events), \
            RunLock(training_lock_path(home)), GracefulStop() as stop:
        log(lower_priority().summary())
        skipped = None
        if not wait_for_mains(should_stop=stop, log=log):
            skipped = "retrain: skipped (on battery, or stopped while waiting for mains power)"
        elif interrupted_run(home, settings) is None and not _anything_new(home, settings):
            skipped = "retrain: nothing new since the last run; the current adapter stays"
        if skipped:
            log(skipped)
            if events is not None:
                events.done({"skipped": True, "reason": skipped})
            return 0
        options = TrainOptions.from_settings(settings)
        outcome = run_training(home, settings, options, should_stop=stop, log=log,
                               on_progress=update if events is not None else None)
        log("retrain: " + outcome.summary_line())
    if events is not None:
        events.done(_outcome_dict(outcome))
    elif args.json:
        emit_json(_outcome_dict(outcome))
    return 0


def _anything_new(home: Home, settings) -> bool:
    """True when some trainable record has never taken part in a run (new memories, dated
    by when they happened or not, all count)."""
    from persona.core.train.runner import load_dataset
    from persona.privacy.ledger import Ledger

    ledger = Ledger(home.ledger_file, budget=settings.privacy_budget)
    seen = {rid for run in ledger.runs() for rid in run.record_ids}
    return any(ex.record_id not in seen for ex in load_dataset(home, settings).train)


def cmd_eval(args: Namespace) -> int:
    from persona.core.llm.adapters import find_adapter
    from persona.core.llm.models import ensure_model_folder
    from persona.core.train.adapter_store import AdapterStore
    from persona.core.train.dataset import heldout_from_files
    from persona.core.train.runner import evaluate, load_dataset, trainer, training_backend

    home, settings = _home_settings(args)
    backend = args.backend or training_backend(settings)
    _, fmt = trainer(backend)
    examples = (heldout_from_files([Path(p) for p in args.heldout], names=settings.redact_names)
                .heldout if args.heldout else load_dataset(home, settings).heldout)
    store = AdapterStore(home)
    adapter = find_adapter(store.current_dir(), fmt)
    version = store.current_version()
    meta = store.meta(version) if version else None
    ev = evaluate(ensure_model_folder(settings, home), backend, examples, 256,
                  current=adapter, candidate=None)
    if ev is None:
        from persona.core.errors import TextError

        raise TextError("there is no held-out text to evaluate on: give files with "
                        "--heldout, or record more memories first.")
    out = {"backend": backend, "base_perplexity": ev.base_perplexity,
           "persona_perplexity": ev.reference_perplexity, "tokens": ev.tokens,
           "adapter": version, "epsilon": _eps(meta.max_record_epsilon) if meta else None,
           "private": meta.private if meta else None}
    from persona.core.cli.fidelity_cli import fidelity_fields, fidelity_lines

    report = fidelity_fields(args, home, settings, examples)
    out.update(report)
    if args.json:
        emit_json(out)
        return 0
    print(f"Held-out text: {ev.tokens:,} tokens ({'given files' if args.heldout else 'the held-out slice of your memories'})")
    print(f"Base model perplexity:    {ev.base_perplexity:.3f}")
    if version:
        eps = out["epsilon"]
        print(f"Persona perplexity:       {ev.reference_perplexity:.3f}  (adapter {version}, "
              f"max per-record ε {eps}{'' if meta.private else ', NON-PRIVATE'})")
    else:
        print("Persona perplexity:       (no trained adapter yet: same as the base model)")
    print("\n".join(fidelity_lines(report)))
    return 0


def _eps(x):
    return "inf" if x is None or math.isinf(x) else round(x, 3)


def cmd_privacy(args: Namespace) -> int:
    from persona.core.evaluate.membership import audit_fields, audit_line
    from persona.core.train.adapter_store import AdapterStore
    from persona.core.train.jobcontrol import training_status
    from persona.core.train.ledger_binding import check_bindings
    from persona.core.train.runner import checkpoints_dir
    from persona.privacy.ledger import Ledger
    from persona.privacy.report import build_summary, report_json, report_lines

    home, settings = _home_settings(args)
    ledger = Ledger(home.ledger_file, budget=settings.privacy_budget)
    # A report of a ledger that lost what the adapter spent would under-report: refuse it.
    check_bindings(AdapterStore(home), ledger, checkpoints_dir(home))
    summary = build_summary(ledger)
    # A run going in another process (the nightly job, or the app's Train now).
    running = summary["training_running"] = training_status(home)
    summary.update(audit_fields(home.privacy_dir, AdapterStore(home).current_version()))
    lines = [*report_lines(summary), audit_line(summary)]
    if running is not None:
        lines.append(f"A training run is going now (pid {running['pid'] or 'unknown'}, "
                     f"since {running['started'] or 'just now'}).")
    print(report_json(summary) if args.json else "\n".join(lines))
    return 0


def cmd_rollback(args: Namespace) -> int:
    from persona.core.train.adapter_store import AdapterStore

    home, _ = _home_settings(args)
    version = AdapterStore(home).rollback()
    if args.json:
        emit_json({"current": version})
    else:
        print(f"The persona now uses adapter {version}." if version else
              "The persona now uses the base model (no earlier adapter).")
    return 0


def cmd_schedule_install(args: Namespace) -> int:
    from persona.core.train import schedule

    home, settings = _home_settings(args)
    result = schedule.install(home, hour=settings.retrain_hour if args.hour is None else args.hour,
                              minute=settings.retrain_minute if args.minute is None else args.minute,
                              python=sys.executable)
    if args.json:
        emit_json({"system": result.system, "enabled": result.enabled,
                   "files": [str(p) for p in result.files], "next_run": str(result.next_run),
                   "message": result.message})
    else:
        print(result.message)
    return 0


def cmd_schedule_remove(args: Namespace) -> int:
    from persona.core.train import schedule

    home, _ = _home_settings(args)
    result = schedule.remove(home)
    if args.json:
        emit_json({"removed": [str(p) for p in result.removed], "message": result.message})
    else:
        print(result.message)
    return 0


def cmd_schedule_status(args: Namespace) -> int:
    from persona.core.train import schedule

    home, _ = _home_settings(args)
    status = schedule.status(home)
    if args.json:
        emit_json(status)
    else:
        for key, value in status.items():
            print(f"{key:<16} {value}")
    return 0


def cmd_privacy_budget(args: Namespace) -> int:
    """`persona privacy budget X [--yes]`: a logged change of the lifetime budget."""
    from persona.core.budget import change_budget

    home, settings = _home_settings(args)
    change = change_budget(home, budget=args.epsilon, confirmed=args.yes,
                           reason="persona privacy budget", settings=settings)
    if args.json:
        emit_json({"budget": change.budget, "previous": change.previous,
                   "logged": change.logged})
    else:
        print(change.message())
    return 0
