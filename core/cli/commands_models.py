"""`persona models list | use | import | info`: the model catalog (core/models/)."""

from __future__ import annotations

from argparse import Namespace

from persona.core.cli.report import emit_json, info
from persona.core.models import cache
from persona.core.models.catalog import get_model
from persona.core.models.requantize import runtime_note
from persona.core.models.status import (
    ModelState,
    catalog_states,
    choose,
    state_of,
)
from persona.core.models.status import params_text as _params
from persona.core.models.status import size_text as _mb
from persona.core.paths import Home
from persona.core.settings import load_settings, save_settings

OLD_CONVERSION = "smollm2-135m-instruct"  # the per-home copy made before issue 9


def model_dict(state: ModelState) -> dict:
    """One row of `models list --json` (an orphaned selection has no catalog facts)."""
    out = {"name": state.name, "role": state.role, "installed": state.installed,
           "verified": state.verified, "selected": state.selected, "in_use": state.in_use,
           "status": state.status, "orphan": state.orphan, "problem": state.problem}
    spec = state.spec
    if spec is not None:
        out.update(title=spec.title, params=spec.params, size_bytes=spec.size,
                   ram_bytes=spec.ram_bytes, licence=spec.licence, source=spec.source,
                   sha256=spec.sha256, languages=spec.languages,
                   install=None if state.installed else spec.install_hint(),
                   note=spec.note or None)
    return out


def _old_copy(home: Home):
    folder = home.root / "models" / OLD_CONVERSION
    if not folder.is_dir():
        return None
    return folder, sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def cmd_models_list(args: Namespace) -> int:
    home = Home.resolve(args.home)
    settings = load_settings(home.settings_file)
    rows = [model_dict(s) for s in catalog_states(settings)]
    old = _old_copy(home)
    from persona.core.llm.adapter_base import adapter_fit

    adapter_note = adapter_fit(settings, home.adapter_dir).note
    if args.json:
        emit_json({"models": rows, "cache": str(cache.models_cache()),
                   "old_home_conversion": str(old[0]) if old else None,
                   "adapter_note": adapter_note})
        return 0
    print(f"{'':2}{'NAME':<22} {'ROLE':<4} {'PARAMS':>6} {'SIZE':>9} {'RAM':>9}  "
          f"{'LICENCE':<22} STATUS")
    for r in rows:
        if r["orphan"]:  # selected, but no catalog entry says what it is
            print(f"! {r['name']:<22} {r['role']:<4} {'?':>6} {'?':>9} {'?':>9}  "
                  f"{'?':<22} {r['status']} (not in the catalog)")
            continue
        mark = "!" if r["problem"] else "*" if r["in_use"] else " "
        print(f"{mark} {r['name']:<22} {r['role']:<4} "
              f"{_params(r['params']):>6} {_mb(r['size_bytes']):>9} {_mb(r['ram_bytes']):>9}  "
              f"{r['licence']:<22} {r['status']}")
    print(f"\nRAM is an estimate: the file, plus for a language model its KV cache for 4096 "
          f"tokens and 300 MB of working memory. Files are kept in {cache.models_cache()}.")
    for r in rows:
        if r["problem"]:
            print(f"! {r['problem']}")
        elif not r["installed"]:
            print(f"{r['name']}: {r['install']}.")
    if settings.llm_model:
        print(f"The llm_model folder {settings.llm_model} is used instead of the catalog.")
    if adapter_note:
        print(f"! Note: {adapter_note}.")
    if old:
        print(f"{old[0]} ({_mb(old[1])}) is an old per-home conversion that is no longer "
              f"used; you may delete it.")
    return 0


def cmd_models_info(args: Namespace) -> int:
    settings = load_settings(Home.resolve(args.home).settings_file)
    spec = get_model(args.name)
    d = model_dict(state_of(spec, settings))
    d.update(ram_estimate="file + f16 KV cache of 4096 tokens + 300 MB" if spec.role == "llm"
             else "file + 200 MB", packages=[f"{p}=={v}" for p, v in spec.packages],
             imported_from=spec.imported_from, runtime_copy=runtime_note(spec, settings))
    if args.json:
        emit_json(d)
        return 0
    for key in ("name", "title", "role", "params", "size_bytes", "ram_bytes", "ram_estimate",
                "licence", "languages", "source", "sha256", "installed", "verified", "in_use",
                "runtime_copy", "install", "problem", "note"):
        if d.get(key) not in (None, "", []):
            print(f"{key:<12} {d[key]}")
    return 0


def cmd_models_use(args: Namespace) -> int:
    home = Home.resolve(args.home).ensure()
    settings, spec = choose(load_settings(home.settings_file), args.name)
    save_settings(settings, home.settings_file)
    override = settings.llm_model if spec.role == "llm" else settings.asr_model
    if args.json:
        emit_json({"setting": spec.role, "value": spec.name, "override": override})
    else:
        info(f"{spec.role} = {spec.name}")
        if override:
            key = f"{spec.role}_model"
            info(f"Note: the {key} folder {override} still takes precedence; clear it with "
                 f"`persona settings set {key} none`.")
    return 0


def cmd_models_import(args: Namespace) -> int:
    from persona.core.cli.commands_bundle import _progress
    from persona.core.models.importer import import_gguf

    info(f"Checking and copying {args.file} into {cache.models_cache()}…")
    # A byte bar on stderr while the file is copied and hashed; Ctrl+C stops the copy and
    # removes its temporary file (nothing is registered).
    update, close = _progress("import", args.json)
    try:
        spec = import_gguf(args.file, name=args.name, expected_sha256=args.sha256,
                           progress=update)
    finally:
        close()
    if args.json:
        emit_json(model_dict(state_of(spec, load_settings(
            Home.resolve(args.home).settings_file))))
    else:
        info(f"Imported {spec.name}: {spec.title}, {_params(spec.params)} parameters, "
             f"{_mb(spec.size)}, sha256 {spec.sha256}. Use it with "
             f"`persona models use {spec.name}`.")
    return 0
