"""`persona export` and `persona import`: the encrypted persona bundle (core/bundle.py)."""

from __future__ import annotations

import getpass
import sys
from argparse import Namespace
from pathlib import Path

from persona.core.cli.report import emit_json, info
from persona.core.errors import BundleError
from persona.core.paths import Home


def read_passphrase(path: str | None, *, confirm: bool) -> str:
    """The passphrase from ``path`` (its first line), else asked on the terminal without
    echo (twice when ``confirm``, so a typo cannot lock the person out of the bundle)."""
    if path:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"Cannot read the passphrase file {path} ({exc}); give a "
                              f"readable UTF-8 file whose first line is the passphrase.") \
                from None
        passphrase = text.splitlines()[0] if text.strip() else ""
        if not passphrase:
            raise BundleError(f"The passphrase file {path} is empty; write the passphrase "
                              f"on its first line.")
        return passphrase
    if not sys.stdin.isatty():
        raise BundleError("No terminal to ask the passphrase on; pass --passphrase-file F.")
    first = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Passphrase again: ") != first:
        raise BundleError("The two passphrases differ; nothing was written. Try again.")
    return first


def _progress(label: str, json_mode: bool):
    from tqdm import tqdm

    bar = tqdm(desc=label, unit="B", unit_scale=True, file=sys.stderr, leave=not json_mode,
               disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def cmd_export(args: Namespace) -> int:
    from persona.core.bundle import export_persona
    from persona.privacy.bundle.writer import check_new_passphrase

    passphrase = read_passphrase(args.passphrase_file, confirm=True)
    check_new_passphrase(passphrase)
    update, close = _progress("export", args.json)
    try:
        out = export_persona(Home.resolve(args.home), args.out, passphrase=passphrase,
                             with_audio=args.with_audio, progress=update)
    finally:
        close()
    if args.json:
        emit_json({"bundle": str(out.path), "bytes": out.size, "memories": out.memories,
                   "parts": len(out.parts), "with_audio": args.with_audio,
                   "seconds": round(out.seconds, 3)})
    else:
        info(f"Wrote {out.path} ({out.size / 1e6:.1f} MB, {out.memories} memories"
             f"{', with recordings' if args.with_audio else ''}). Keep the passphrase: "
             f"without it nobody, you included, can open the bundle.")
    return 0


def cmd_import(args: Namespace) -> int:
    from persona.core.bundle import import_persona

    passphrase = read_passphrase(args.passphrase_file, confirm=False)
    target = Home.resolve(args.home).root
    update, close = _progress("import", args.json)
    try:
        out = import_persona(args.bundle, target, passphrase=passphrase, progress=update)
    finally:
        close()
    if args.json:
        emit_json({"home": str(out.home), "memories": out.memories, "parts": len(out.parts),
                   "base_model": out.base_model, "seconds": round(out.seconds, 3)})
    else:
        info(f"Imported the persona into {out.home} ({out.memories} memories). Use it with "
             f"--home {out.home} or PERSONA_HOME={out.home}.")
    return 0
