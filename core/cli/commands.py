"""The handlers of the `persona` command, one per subcommand (see core/cli/__init__.py)."""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

from persona.core.cli import report
from persona.core.cli.report import emit_json, info
from persona.core.errors import SettingsError
from persona.core.paths import Home
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings, load_settings, save_settings


def _pipeline(args: Namespace) -> Pipeline:
    pipe = Pipeline(Home.resolve(args.home))
    pipe.model_progress = info  # one-off model work (e.g. the runtime copy) said on stderr
    return pipe


def _progress_bar(desc: str, json_mode: bool):
    """A tqdm bar on stderr; returns (callback(done, total), close)."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="item", file=sys.stderr, leave=not json_mode, disable=None)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def cmd_demo(args: Namespace) -> int:
    from persona.core.cli.demo import DEFAULT_QUESTION, demo_home, run_demo

    out = run_demo(demo_home(args.dir), question=args.question or DEFAULT_QUESTION,
                   log=None if args.json else info)
    if args.json:
        emit_json(out)
    return 0


def cmd_ingest(args: Namespace) -> int:
    import os
    import signal
    import threading

    # Before torch loads (nothing has yet): idle OpenMP workers sleep instead of spinning.
    # Spinning threads cost a batch import 2-3x its time when another process holds a core
    # (1,000 notes: 21 s instead of 49 s with the machine busy; CPU time 5.4 s vs 15.8 s).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    pipe = _pipeline(args)
    update, close = _progress_bar("ingest", args.json)
    stop = threading.Event()

    def interrupted(_signum, _frame) -> None:
        # The first Ctrl+C stops before the next batch is written: what is committed stays,
        # every file is in whole or not at all.
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        info("Stopping before the next batch is written (Ctrl+C again to quit at once) …")

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        summary = pipe.ingest(args.paths, progress=update, should_stop=stop.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
        close()
    if args.json:
        emit_json(summary.to_dict())
    else:
        print(summary.describe())
    return 0 if summary.stored or not summary.errors else 2


def cmd_remember(args: Namespace) -> int:
    pipe = _pipeline(args)
    memory, duplicate = pipe.remember_text(args.text)
    if args.json:
        emit_json({"stored": memory is not None, "duplicate": duplicate,
                   "memory": report.memory_dict(memory) if memory else None})
    elif duplicate:
        print("Already remembered (identical text); nothing stored.")
    else:
        print(f"Remembered {memory.id} ({memory.emotion}).")
    return 0


def _print_heard(heard, as_json: bool) -> None:
    if as_json:
        emit_json({"transcript": heard.transcript.text,
                   "emotion": report.emotion_dict(heard.emotion),
                   "memory_id": heard.memory.id if heard.memory else None,
                   "duplicate": heard.duplicate, "timings": heard.timings.rounded(),
                   "words": report.transcript_dict(heard.transcript)["words"]})
        return
    print(f"Transcript: {heard.transcript.text}")
    print(f"Emotion:    {report.emotion_line(heard.emotion)}")
    if heard.duplicate:
        print("Memory:     already remembered (identical text); nothing stored")
    elif heard.memory is not None:
        print(f"Memory:     stored as {heard.memory.id}")


def cmd_hear(args: Namespace) -> int:
    heard = _pipeline(args).hear(Path(args.file), source="voice")
    _print_heard(heard, args.json)
    return 0


def cmd_listen(args: Namespace) -> int:
    from persona.core.cli.listen import listen_loop

    pipe = _pipeline(args)
    if args.device is not None:
        pipe.settings.microphone = args.device
    for heard, reply in listen_loop(pipe, once=args.once, reply=args.reply, log=info):
        _print_heard(heard, args.json)
        if reply is not None and not args.json:
            print(f"Persona:    {reply.text}")
            for claim in reply.unsupported:
                info(f"(no memory supports: {claim.sentence})")
    return 0


def cmd_ask(args: Namespace) -> int:
    pipe = _pipeline(args)
    # Side by side: a cold ask waits for the slowest only (the language model, ~2 s here).
    pipe.preload("llm", "store", "embedder")
    stream = not args.json and not args.speak
    reply = pipe.reply(args.question, speak=args.speak,
                       wav=Path(args.wav) if args.wav else None,
                       use_memory=not args.no_memory, as_me=args.as_me,
                       on_text=(lambda s: print(s, end="", flush=True)) if stream else None)
    if args.json:
        emit_json({"question": reply.question, "reply": reply.text,
                   "retrieved": [report.hit_dict(h) for h in reply.hits],
                   "reply_wav": str(reply.wav) if reply.wav else None,
                   "unsupported": [c.to_dict() for c in reply.unsupported],
                   # best-of-N's candidates, one entry per part (core/prefs/bestof.py)
                   "best_of": [p.to_dict() for p in reply.best_of],
                   "first_token_s": reply.first_token_s, "first_audio_s": reply.first_audio_s,
                   "timings": reply.timings.rounded()})
        return 0
    if stream:
        print()
    else:
        print(reply.text)
    for claim in reply.unsupported:  # on stderr: the reply itself stays as it was said
        info(f"(no memory supports: {claim.sentence})")
    if reply.wav:
        info(f"(spoken reply written to {reply.wav})")
    return 0


def cmd_profile_show(args: Namespace) -> int:
    from persona.core.persona.fields import read_fields

    pipe = _pipeline(args)
    profile = pipe.profile()
    if args.json:
        # "origins": per "section.subfield", induced / yours / empty (core.persona.fields).
        emit_json({**profile.model_dump(mode="json"),
                   "origins": {f.key: f.origin for f in read_fields(pipe.home.profile_file)}})
    else:
        print(pipe.home.profile_file.read_text(encoding="utf-8")
              if pipe.home.profile_file.exists() else "No profile yet: run `persona profile induce`.")
    return 0


def cmd_profile_set(args: Namespace) -> int:
    """`persona profile set KEY VALUE`: a hand edit, which induction never overwrites."""
    from persona.core.persona.fields import check_key, parse_value, set_values

    home = Home.resolve(args.home).ensure()
    check_key(args.key)
    fields = set_values(home.profile_file, {args.key: parse_value(args.key, args.value)})
    changed = next(f for f in fields if f.key == args.key)
    if args.json:
        emit_json(changed.to_dict())
    else:
        print(f"{changed.key} = {changed.value!r} ({changed.origin})")
    return 0


def cmd_profile_induce(args: Namespace) -> int:
    pipe = _pipeline(args)
    profile, rep = pipe.induce_profile()
    if args.json:
        emit_json({"memories": rep.n_memories,
                   "changed": [c.field for c in rep.changed],
                   "kept": [c.field for c in rep.kept],
                   "profile": profile.model_dump(mode="json")})
    else:
        print(rep.summary())
        print(f"Profile written to {pipe.home.profile_file}")
    return 0


def cmd_devices(args: Namespace) -> int:
    from persona.core.audio.capture import list_input_devices

    devices = list_input_devices(refresh=True)
    if args.json:
        emit_json({"inputs": [d.__dict__ for d in devices]})
    else:
        for d in devices:
            print(f"{d.index:>3}  {d.name}  ({d.channels} ch, {d.default_rate:.0f} Hz)"
                  + ("  [default]" if getattr(d, "is_default", False) else ""))
        if not devices:
            print("No microphone found.")
    return 0


def cmd_settings_show(args: Namespace) -> int:
    home = Home.resolve(args.home)
    settings = load_settings(home.settings_file)
    if args.json:
        emit_json(settings.model_dump())
    else:
        for key, value in settings.model_dump().items():
            print(f"{key:<24} {value!r}")
    return 0


def cmd_settings_set(args: Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from persona.core.models_check import check_model_setting

    home = Home.resolve(args.home).ensure()
    settings = load_settings(home.settings_file)
    if args.key not in Settings.model_fields:
        raise SettingsError(f"unknown setting {args.key!r}; known: "
                            f"{', '.join(Settings.model_fields)}")
    if args.value.lower() == "default":
        value = Settings.model_fields[args.key].default
    elif args.value.lower() in ("none", "null"):
        value = None
    else:
        value = yaml.safe_load(args.value)
    try:
        setattr(settings, args.key, value)
    except ValidationError as exc:
        raise SettingsError(f"{args.key}={args.value!r} is not valid: "
                            f"{exc.errors()[0]['msg']}") from exc
    check_model_setting(args.key, getattr(settings, args.key))  # before anything is saved
    if args.key == "privacy_budget":
        # Pinned in the ledger: a change is a logged event, a raise needs --yes there.
        from persona.core.budget import change_budget

        change = change_budget(home, budget=settings.privacy_budget, confirmed=False,
                               reason="persona settings set",
                               settings=load_settings(home.settings_file))
        info(change.message())
        settings.privacy_budget = change.budget
    save_settings(settings, home.settings_file)
    if args.json:
        emit_json(settings.model_dump())
    else:
        print(f"{args.key} = {getattr(settings, args.key)!r}")
    return 0
