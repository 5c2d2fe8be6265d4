"""The `persona` command: every feature, headless. It parses arguments and calls the core."""

from __future__ import annotations

import argparse
import logging
import sys

from persona.core import __version__
from persona.core.errors import PersonaError


def _common(p: argparse.ArgumentParser, *, json_flag: bool = False,
            nested: bool = False) -> None:
    """--home (and --json). ``nested``: on a sub-subcommand whose parent takes them too, so
    that `persona privacy --home X budget 5` keeps X (argparse lets a subparser's defaults
    overwrite what the parent parsed)."""
    extra = {"default": argparse.SUPPRESS} if nested else {}
    p.add_argument("--home", metavar="DIR", **extra,
                   help="data folder (default: $PERSONA_HOME or the platform's user-data folder)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object", **extra)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="persona", description="An on-device assistant that learns one person.")
    ap.add_argument("--version", action="version", version=f"persona {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("app", help="open the desktop window (see `persona app --help`)",
                   add_help=False)

    p = sub.add_parser("demo", help="run the whole loop on a sample persona (in its own "
                                    "folder, never your data folder)")
    p.add_argument("--dir", metavar="DIR",
                   help="the demo's folder (default: 'demo' in the platform's cache folder; "
                        "$PERSONA_HOME is ignored)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--question", help="the question to speak (default: one about the diary)")

    p = sub.add_parser("ingest", help="import text, Markdown and audio files or folders")
    _common(p, json_flag=True)
    p.add_argument("paths", nargs="+", metavar="PATH")

    p = sub.add_parser("remember", help="store a typed note as a memory")
    _common(p, json_flag=True)
    p.add_argument("text")

    p = sub.add_parser("listen", help="push-to-talk in the terminal: Enter starts, Enter stops")
    _common(p, json_flag=True)
    p.add_argument("--device", help="microphone name or index (see `persona devices`)")
    p.add_argument("--once", action="store_true", help="one utterance, then exit")
    p.add_argument("--reply", action="store_true", help="answer each utterance aloud")

    p = sub.add_parser("hear", help="treat an audio file as an utterance and remember it")
    _common(p, json_flag=True)
    p.add_argument("file")

    p = sub.add_parser("ask", help="ask a question; answered from your memories")
    _common(p, json_flag=True)
    p.add_argument("question")
    p.add_argument("--speak", action="store_true", help="say the reply aloud")
    p.add_argument("--wav", metavar="OUT", help="write the spoken reply to a WAV file")
    p.add_argument("--no-memory", action="store_true", help="answer without retrieval")
    p.add_argument("--as-me", action="store_true",
                   help="answer as you would, in your own voice and style (e.g. \"How would I "
                        "answer this invitation?\"), from your profile, memories and adapter")

    _memories_parsers(sub)

    p = sub.add_parser("forget", help="forget memories everywhere: the store's files, "
                       "recordings, replies, logs, profile; never trained on again")
    _common(p, json_flag=True)
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--search", metavar="QUERY", help="forget the memories that match QUERY")
    p.add_argument("-k", type=int, default=5, help="how many matches of --search (default 5)")
    p.add_argument("--yes", action="store_true", help="do not ask before forgetting matches")
    p.add_argument("--retrain", action="store_true",
                   help="if they trained the current adapter: train a new one from the base "
                        "model without them (charged to the privacy ledger)")

    p = sub.add_parser("profile", help="the persona profile")
    psub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _common(psub.add_parser("show", help="print the profile"), json_flag=True)
    _common(psub.add_parser("induce", help="fill the profile from the memories"), json_flag=True)
    q = psub.add_parser("set", help="set one field by hand (induction then keeps it)")
    _common(q, json_flag=True)
    q.add_argument("key", help="section.field, e.g. preference.likes")
    q.add_argument("value", help="the value; lists comma-separated ('sailing, tea'); "
                                 "'none' empties it")

    _prefs_parsers(sub)
    _training_parsers(sub)
    _bundle_parsers(sub)
    _models_parsers(sub)
    from persona.core.cli.commands_topics import add_parser as topics_parser

    topics_parser(sub)

    p = sub.add_parser("devices", help="list microphones")
    _common(p, json_flag=True)

    p = sub.add_parser("settings", help="show or change settings")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _common(ssub.add_parser("show", help="print the settings"), json_flag=True)
    q = ssub.add_parser("set", help="change one setting (`none` resets it)")
    _common(q, json_flag=True)
    q.add_argument("key")
    q.add_argument("value")
    return ap


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") \
            from None


def _memories_parsers(sub) -> None:
    p = sub.add_parser("memories", help="search, list, edit, forget memories; emotion stats")
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = msub.add_parser("search", help="hybrid search with recency")
    _common(q, json_flag=True)
    q.add_argument("query")
    q.add_argument("-k", type=int, default=None, help="how many (default: the setting)")
    q.add_argument("--mode", choices=("hybrid", "vector", "fts"), default="hybrid")
    q = msub.add_parser("list", help="newest first, optionally filtered")
    _common(q, json_flag=True)
    q.add_argument("--limit", type=int, default=20)
    q.add_argument("--offset", type=int, default=0)
    q.add_argument("--source", choices=("voice", "text", "import", "chat"))
    q.add_argument("--emotion", help="only memories tagged with this emotion, e.g. happy")
    q.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="from this day on")
    q.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="up to this day (included)")
    q = msub.add_parser("edit", help="change a memory's text (its time and emotion stay)")
    _common(q, json_flag=True)
    q.add_argument("id")
    q.add_argument("text")
    for name, what in (("forget", "forget memories and their recordings"),
                       ("delete", "the same as forget")):
        q = msub.add_parser(name, help=what)
        _common(q, json_flag=True)
        q.add_argument("ids", nargs="+", metavar="ID")
    q = msub.add_parser("stats", help="your emotions per day: valence, arousal, labels")
    _common(q, json_flag=True)

    p = sub.add_parser("names", help="the names redaction replaces before training")
    nsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = nsub.add_parser("suggest", help="names found in your memories, not yet listed")
    _common(q, json_flag=True)
    q.add_argument("--min-count", type=int, default=2,
                   help="times a name must be seen (default 2)")
    q = nsub.add_parser("confirm", help="add names to the list redaction replaces")
    _common(q, json_flag=True)
    q.add_argument("names", nargs="+", metavar="NAME")
    _common(nsub.add_parser("list", help="the names redaction replaces"), json_flag=True)


def _prefs_parsers(sub) -> None:
    p = sub.add_parser("prefer", help="thumbs up/down on a reply, or choose between two")
    psub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, what in (("up", "thumb up"), ("down", "thumb down"), ("undo", "take back")):
        q = psub.add_parser(name, help=f"{what} on Persona's last reply (or --id)")
        _common(q, json_flag=True)
        q.add_argument("--id", help="the reply's memory id (persona memories list --source chat)")
    q = psub.add_parser("compare", help="two replies to QUESTION side by side: pick 1 or 2")
    _common(q, json_flag=True)
    q.add_argument("question")
    q.add_argument("--pick", choices=("1", "2"), help="the pick, without asking")
    q = psub.add_parser("pair", help="keep a choice made elsewhere: CHOSEN over REJECTED")
    _common(q, json_flag=True)
    q.add_argument("chosen")
    q.add_argument("rejected")
    q.add_argument("--question", help="what both reply to")
    p = sub.add_parser("prefs", help="what Persona learnt from your choices: pairs, held-out "
                                     "accuracy, a summary")
    _common(p, json_flag=True)


def _models_parsers(sub) -> None:
    p = sub.add_parser("models", help="the language and speech models: list, use, import, info")
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _common(msub.add_parser("list", help="every model: size, RAM, licence, installed, in use"),
            json_flag=True)
    q = msub.add_parser("info", help="one model in full (source, sha256, how to install)")
    _common(q, json_flag=True)
    q.add_argument("name")
    q = msub.add_parser("use", help="make NAME the language or speech-to-text model")
    _common(q, json_flag=True)
    q.add_argument("name")
    q = msub.add_parser("import", help="copy a chat GGUF into the model cache and list it")
    _common(q, json_flag=True)
    q.add_argument("file", metavar="FILE.gguf")
    q.add_argument("--name", help="its name in the catalog (default: from the file)")
    q.add_argument("--sha256", metavar="HEX", help="refuse the file unless it has this sha256")


def _bundle_parsers(sub) -> None:
    p = sub.add_parser("export", help="write the persona into an encrypted bundle")
    _common(p, json_flag=True)
    p.add_argument("out", metavar="OUT.persona")
    p.add_argument("--passphrase-file", metavar="F",
                   help="read the passphrase from F's first line (default: ask twice)")
    p.add_argument("--with-audio", action="store_true", help="include the recordings")
    p = sub.add_parser("import", help="make a new home from an encrypted bundle")
    _common(p, json_flag=True)
    p.add_argument("bundle", metavar="IN.persona")
    p.add_argument("--passphrase-file", metavar="F",
                   help="read the passphrase from F's first line (default: ask)")


def _epsilon(text: str) -> float:
    value = float(text)  # "inf" is accepted: a non-private run, reported as such
    if not value > 0:
        raise argparse.ArgumentTypeError(f"epsilon must be > 0 or inf, not {text}")
    return value


def _progress_jsonl(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress-jsonl", action="store_true",
                   help="print one JSON object per line on stdout: progress (step, steps, "
                        "loss, epsilon), log messages, then done (the outcome) or error")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count; give a whole number, 0 or more")
    return value


def _fidelity_args(p: argparse.ArgumentParser) -> None:
    """`persona eval`'s style and memory-question knobs (core/evaluate/fidelity.py): each
    sample and question is one generation, so these bound how long it takes."""
    p.add_argument("--samples", type=_count, default=3, metavar="N",
                   help="held-out memories to write from, as you, with the persona and the "
                        "base model (48 tokens each; default 3)")
    p.add_argument("--questions", type=_count, default=6, metavar="N",
                   help="questions made from facts in your memories (default 6)")
    p.add_argument("--perplexity-only", action="store_true",
                   help="skip style and questions: only held-out perplexity (fast)")


def _training_parsers(sub) -> None:
    p = sub.add_parser("train", help="fine-tune the persona on your words under DP")
    _common(p, json_flag=True)
    p.add_argument("--epsilon", type=_epsilon, default=None,
                   help="ε this run may spend per record (default: the setting, 2; inf = "
                        "non-private)")
    p.add_argument("--delta", type=float, default=None, help="δ (default: the ledger's)")
    p.add_argument("--epochs", type=float, default=None,
                   help="passes over the records (default: the train_epochs setting, 1)")
    p.add_argument("--backend", choices=("torch", "mlx"), default=None)
    p.add_argument("--dry-run", action="store_true",
                   help="print what the run would spend; change nothing")
    p.add_argument("--from-base", action="store_true",
                   help="train a new adapter from the base model, not from the current one "
                        "(the way out when the privacy ledger cannot account for it)")
    _progress_jsonl(p)

    p = sub.add_parser("eval", help="the fidelity report: perplexity, style and memory "
                       "questions, base model vs persona (a minute or two; see --help)")
    _common(p, json_flag=True)
    p.add_argument("--heldout", nargs="+", metavar="PATH", default=None,
                   help="text files to judge on (default: the held-out slice of your memories)")
    p.add_argument("--backend", choices=("torch", "mlx"), default=None)
    _fidelity_args(p)

    p = sub.add_parser("privacy", help="the privacy ledger: runs and ε spent per record")
    _common(p, json_flag=True)
    psub = p.add_subparsers(dest="action", required=False, metavar="ACTION")
    q = psub.add_parser("budget", help="change the lifetime budget (a logged ledger event)")
    _common(q, json_flag=True, nested=True)
    q.add_argument("epsilon", type=float, help="the new lifetime ε per record")
    q.add_argument("--yes", action="store_true",
                   help="confirm a raise (lowering needs no confirmation)")
    p = sub.add_parser("retrain", help="the nightly job: train, judge, promote")
    _common(p, json_flag=True)
    _progress_jsonl(p)
    _common(sub.add_parser("rollback", help="go back to the previous adapter"), json_flag=True)

    p = sub.add_parser("schedule", help="the nightly retrain timer")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = ssub.add_parser("install", help="install the timer (systemd user timer / launchd)")
    _common(q, json_flag=True)
    q.add_argument("--hour", type=int, default=None, help="default: the retrain_hour setting")
    q.add_argument("--minute", type=int, default=None)
    _common(ssub.add_parser("remove", help="remove the timer"), json_flag=True)
    _common(ssub.add_parser("status", help="is it installed, when it runs next"), json_flag=True)


def _app(argv: list[str]) -> int:
    """`persona app ...`: the desktop window. Loaded by name, so that core/ never imports Qt
    (or desktop/) unless the person asks for the window."""
    import importlib

    try:
        desktop_app = importlib.import_module("persona.desktop.app")
    except ImportError as exc:
        print(f"persona: error: the desktop app cannot be loaded ({exc}); install it with "
              "`pip install -e '.[desktop]'` or `bash scripts/setup.sh`.", file=sys.stderr)
        return 1
    return desktop_app.main(argv)


def _tighten_home(args: argparse.Namespace) -> None:
    """A home made before Persona kept its files private is tightened on start, and the
    person told once on stderr (the next start finds nothing to change)."""
    if not hasattr(args, "home"):
        return
    from persona.core.paths import Home

    done = Home.resolve(args.home).tighten()
    if done.changed or done.errors:
        print(f"persona: {done.message()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"]:
        return _app(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from persona.core.cli import (
        commands,
        commands_bundle,
        commands_forget,
        commands_memories,
        commands_models,
        commands_prefs,
        commands_topics,
        commands_train,
    )

    _tighten_home(args)
    name = "cmd_" + "_".join(x for x in (args.command, getattr(args, "action", None)) if x)
    handler = (getattr(commands, name, None) or getattr(commands_memories, name, None)
               or getattr(commands_bundle, name, None) or getattr(commands_forget, name, None)
               or getattr(commands_models, name, None) or getattr(commands_prefs, name, None)
               or getattr(commands_topics, name, None) or getattr(commands_train, name))
    try:
        return handler(args) or 0
    except PersonaError as exc:
        print(f"persona: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("persona: interrupted", file=sys.stderr)
        return 130
