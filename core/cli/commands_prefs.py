"""`persona prefer up|down|undo|compare|pair` and `persona prefs [--json]`: the person's
choices between replies and what the reward model learnt from them (core/prefs/)."""

from __future__ import annotations

import sys
from argparse import Namespace

from persona.core.cli.commands import _pipeline
from persona.core.cli.report import emit_json, info
from persona.core.errors import TextError
from persona.core.prefs.service import Status
from persona.core.prefs.store import pair, thumb

VOTES = {"up": 1, "down": -1, "undo": 0}


def _thumb(args: Namespace) -> int:
    from persona.core.prefs.replies import reply_turn

    pipe = _pipeline(args)
    question, reply = reply_turn(pipe.store, args.id)
    status = _with_setting(pipe, pipe.prefs.record(
        thumb(question, reply.text, VOTES[args.action], reply_id=reply.id)))
    word = {"up": "Thumb up", "down": "Thumb down", "undo": "Vote taken back"}[args.action]
    return _report(args, status, f"{word} on: {_short(reply.text)}")


cmd_prefer_up = cmd_prefer_down = cmd_prefer_undo = _thumb


def cmd_prefer_pair(args: Namespace) -> int:
    """A choice made elsewhere: CHOSEN preferred to REJECTED as replies to --question."""
    pipe = _pipeline(args)
    status = _with_setting(pipe, pipe.prefs.record(
        pair(args.question or "", args.chosen, args.rejected, how="cli")))
    return _report(args, status, "Choice kept.")


def cmd_prefer_compare(args: Namespace) -> int:
    """Two replies to QUESTION side by side in the terminal; 1 or 2 picks, anything else
    skips (nothing is kept)."""
    from persona.core.prefs.replies import side_by_side

    pipe = _pipeline(args)
    info("Writing two replies …")
    shown = side_by_side(pipe, args.question)
    if args.pick is None and not sys.stdin.isatty():
        raise TextError("`persona prefer compare` reads your pick (1 or 2) from the terminal; "
                        "without one, give it with --pick 1 or --pick 2.")
    show = info if args.json else print  # stdout stays one JSON object with --json
    show(f"\nQuestion: {shown.question}\n")
    show(f"[1] {shown.a.shown or shown.a.text}\n")
    show(f"[2] {shown.b.shown or shown.b.text}\n")
    which = args.pick
    if which is None:
        try:
            which = input("Which reply do you prefer? 1 or 2 (Enter skips): ").strip()
        except EOFError:
            which = ""
    if which not in ("1", "2"):
        info("Skipped; nothing was kept.")
        return 1
    status = _with_setting(pipe, pipe.prefs.record(shown.choose(which)))
    return _report(args, status, f"Kept: you preferred reply {which}.")


def cmd_prefs(args: Namespace) -> int:
    pipe = _pipeline(args)
    status = _with_setting(pipe, pipe.prefs.status())
    if args.json:
        emit_json(status.to_dict())
        return 0
    print(describe(status))
    return 0


def describe(status: Status) -> str:
    """The status in a few lines, for the terminal."""
    acc = status.accuracy
    lines = [f"Choices: {status.pairs} between two replies, {status.thumbs} thumbs "
             f"({status.training_pairs} pairs to learn from).",
             "Held-out accuracy: " + (
                 f"{acc:.0%} ({status.heldout_correct} of {status.heldout_total} pairs "
                 f"predicted by a model that had not seen them; p = {status.p_value:.3g})"
                 if acc is not None else "none yet")]
    if status.best_of_n_active:
        lines.append("Best-of-N is on: typed questions are answered with the candidate the "
                     "model rates best.")
    elif status.beats_chance:
        lines.append("Best-of-N is off (the best_of_n setting is 1).")
    else:
        lines.append("Best-of-N is off until the model beats chance on held-out pairs "
                     "(`persona prefer compare \"a question\"` adds choices).")
    lines.append(status.summary)
    if status.profile == "yours":
        lines.append("Your own reply style in the profile is kept.")
    elif status.style and status.profile in ("written", "unchanged"):
        lines.append(f"Profile reply style (induced): {status.style}")
    return "\n".join(lines)


def _with_setting(pipe, status: Status) -> Status:
    """``status`` with best-of-N's state under this home's settings."""
    status.best_of_n_active = status.beats_chance and pipe.settings.best_of_n > 1
    return status


def _report(args: Namespace, status: Status, message: str) -> int:
    if getattr(args, "json", False):
        emit_json(status.to_dict())
    else:
        info(message)
        print(describe(status))
    return 0


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"
