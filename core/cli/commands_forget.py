"""`persona forget ID... | --search QUERY [--yes] [--retrain] [--json]`."""

from __future__ import annotations

import sys
from argparse import Namespace

from persona.core.cli import report as show
from persona.core.cli.commands import _pipeline
from persona.core.cli.report import emit_json
from persona.core.errors import PersonaError


def _confirm(count: int) -> bool:
    try:
        answer = input(f"Forget these {count} memories everywhere? This cannot be undone. "
                       f"[y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_forget(args: Namespace) -> int:
    if bool(args.ids) == bool(args.search):
        raise PersonaError("say what to forget: memory ids (`persona forget ID...`, see "
                           "`persona memories list`) or `--search QUERY`, not both.")
    pipe = _pipeline(args)
    ids = list(args.ids)
    if args.search:
        hits = pipe.search(args.search, k=args.k)
        if not hits:
            print("No memories match; nothing was forgotten.", file=sys.stderr)
            if args.json:
                emit_json({"forgotten": [], "matches": []})
            return 1
        if not args.yes and (args.json or not sys.stdin.isatty()):
            raise PersonaError(f"{len(hits)} memories match {args.search!r}; nothing was "
                               f"forgotten. Look at them with `persona memories search`, then "
                               f"add --yes to forget them without being asked.")
        if not args.json:
            for h in hits:
                print(show.memory_line(h.memory))
        if not args.yes and not _confirm(len(hits)):
            print("Nothing was forgotten.")
            return 1
        ids = [h.memory.id for h in hits]
    result = pipe.forget_report(ids)
    from persona.core.train.unlearn import (
        drop_versions_trained_on,
        retrain_from_base,
        training_trace,
    )

    forgotten = [m.id for m in result.forgotten]
    trace = training_trace(pipe.home, pipe.settings, forgotten)
    outcome, dropped = None, []
    if args.retrain and trace.in_current_adapter:
        outcome = retrain_from_base(pipe.home, pipe.settings,
                                    log=lambda m: print(m, file=sys.stderr))
        if outcome.promoted:  # rolling back must not bring them back either
            dropped = drop_versions_trained_on(pipe.home, forgotten)
    if args.json:
        emit_json({**result.to_dict(), "training": trace.to_dict(),
                   "retrain": None if outcome is None else {
                       "promoted": outcome.promoted, "version": outcome.version,
                       "run_id": outcome.run_id, "summary": outcome.summary_line(),
                       "versions_deleted": dropped}})
        return 0
    for m in result.forgotten:
        extra = " (the assistant's reply to it)" if m.id in result.linked_replies else ""
        print(f"Forgot {m.id}{extra}: {m.text[:70]}")
    print(f"Removed from the disk: {result.store_files_removed_text()}")
    if result.profile_yours_quoting:
        print(f"Your own profile fields still quote it (not changed; edit them with `persona "
              f"profile set`): {', '.join(result.profile_yours_quoting)}")
    print(trace.message())
    if args.retrain and outcome is None:
        print("No retraining needed.")
    elif outcome is not None:
        print(f"Retrained from the base model: {outcome.summary_line()}")
        if dropped:
            print(f"Deleted the older adapter versions trained with them (kept for "
                  f"`persona rollback`): {', '.join(dropped)}")
        if not outcome.promoted:
            print("The new adapter was not promoted; the current one (trained with the "
                  "forgotten memories, within the bound above) is still in use.")
    return 0
