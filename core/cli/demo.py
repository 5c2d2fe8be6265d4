"""`persona demo`: the whole loop on a sample persona, stage by stage, with timings.

The demo runs in a folder of its own (``demo_home``: a ``demo`` folder in the platform's
cache folder, or ``--dir``), never in the person's data folder: it imports an invented
person and stores the demo question as a turn of theirs, which nightly training would learn.
In a fresh folder it first loads the sample persona from ``assets/sample_persona`` (an
invented diary, and a profile whose identity was written by hand), then speaks a question
with the speech engine and runs it through speech-to-text → emotion → memory → retrieval →
reply → speech, exactly as a push-to-talk turn in the app.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs

from persona.core.cli import report
from persona.core.errors import SettingsError
from persona.core.paths import APP_NAME, ASSETS_DIR, Home
from persona.core.pipeline import Pipeline
from persona.core.timing import Timings

SAMPLE_DIR = ASSETS_DIR / "sample_persona"
DEFAULT_QUESTION = "Where does my sister live, and what is her job?"


def demo_home(folder: str | Path | None = None) -> Home:
    """The demo's own folder: ``folder``, or ``demo`` in the platform's cache folder.

    ``PERSONA_HOME`` is ignored on purpose. A folder that is, or lies inside, the person's
    data folder (``$PERSONA_HOME`` or the platform's user-data folder) is refused.
    """
    root = (Path(folder).expanduser() if folder else
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "demo").resolve()
    for person in _person_homes():
        if root == person or person in root.parents:
            raise SettingsError(
                f"The demo folder {root} is inside your data folder {person}; the demo imports "
                "an invented person and must not mix it with your memories. Choose another "
                "folder with --dir, or leave it out to use the cache folder.")
    return Home(root)


def _person_homes() -> list[Path]:
    homes = [Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)).resolve()]
    env = os.environ.get("PERSONA_HOME")
    if env:
        homes.append(Path(env).expanduser().resolve())
    return homes


def load_sample_persona(pipe: Pipeline, log: Callable[[str], None] | None = None) -> None:
    """Import the sample diary and build the profile (only into an empty home)."""
    profile = SAMPLE_DIR / "profile.yaml"
    if profile.exists() and not pipe.home.profile_file.exists():
        shutil.copyfile(profile, pipe.home.profile_file)
    summary = pipe.ingest([SAMPLE_DIR / "diary.md"])
    if log:
        log(f"  {summary.describe()}")
    pipe.induce_profile()


def run_demo(home: Home, *, question: str = DEFAULT_QUESTION,
             log: Callable[[str], None] | None = None) -> dict:
    """Run the demo in ``home`` and return its JSON-ready result."""
    say = log or (lambda _msg: None)
    say(f"The demo runs in its own folder, {home.root} (your data folder is not touched).")
    pipe = Pipeline(home)
    pipe.model_progress = log
    setup = Timings()
    demo_dir = pipe.home.root / "demo"
    demo_dir.mkdir(exist_ok=True)

    if pipe.store.count() == 0:
        say(f"Loading the sample persona into {pipe.home.root}…")
        with setup.stage("load_sample_persona"):
            load_sample_persona(pipe, log)
    say("Loading the models…")
    with setup.stage("load_models"):
        pipe.warm_up()

    question_wav = demo_dir / "question.wav"
    with setup.stage("speak_question"):
        pipe.speaker.to_wav(question, question_wav)
    say(f"Question spoken to {question_wav}: {question!r}")

    t0 = time.perf_counter()
    heard, reply = pipe.voice_turn(question_wav, wav=demo_dir / "reply.wav")
    total = time.perf_counter() - t0
    # First audio, from the end of push-to-talk: everything before the reply stage,
    # plus the reply's own time to its first synthesised sentence.
    before_reply = sum(v for k, v in reply.timings.items() if k not in ("reply", "load"))
    first_audio = None if reply.first_audio_s is None else before_reply + reply.first_audio_s

    if log:
        say("")
        say(f"1. speech-to-text  {reply.timings.get('asr', 0):6.2f} s  {heard.transcript.text!r}")
        say(f"2. emotion         {reply.timings.get('emotion', 0):6.2f} s  "
            f"{report.emotion_line(heard.emotion)}")
        say(f"3. memory          {reply.timings.get('memory', 0):6.2f} s  "
            f"stored as {heard.memory.id if heard.memory else '(duplicate)'}")
        say(f"4. retrieval       {reply.timings.get('retrieve', 0):6.2f} s  "
            f"{len(reply.hits)} memories:")
        for h in reply.hits:
            say(f"     - [{h.memory.ts:%Y-%m-%d}, {h.memory.emotion}] {h.memory.text}")
        say(f"5. reply + speech  {reply.timings.get('reply', 0):6.2f} s  {reply.text!r}")
        say(f"6. spoken reply    {reply.wav}")
        if first_audio is not None:
            say(f"   first audio {first_audio:.2f} s after the end of the question; "
                f"whole turn {total:.2f} s")
    return {
        "question": question,
        "question_wav": str(question_wav),
        "transcript": heard.transcript.text,
        "emotion": report.emotion_dict(heard.emotion),
        "retrieved": [h.memory.text for h in reply.hits],
        "retrieved_details": [report.hit_dict(h) for h in reply.hits],
        "reply": reply.text,
        "reply_wav": str(reply.wav) if reply.wav else None,
        "timings": {**setup.rounded(), **reply.timings.rounded(),
                    "first_token": _r(reply.first_token_s),
                    "first_audio_after_question": _r(first_audio), "turn_total": _r(total)},
        "home": str(pipe.home.root),
        "demo_folder": str(pipe.home.root),  # the demo's own folder, never the person's
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
