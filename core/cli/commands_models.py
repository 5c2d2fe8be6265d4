"""`persona models list | use | import | info`: the model catalog (core/models/)."""

from __future__ import annotations

from argparse import Namespace

from persona.core.cli.report import emit_json, info
from persona.core.errors import ModelError
from persona.core.models import cache
from persona.core.models.catalog import ModelSpec, all_models, get_model, is_installed
from persona.core.paths import Home
from persona.core.settings import Settings, load_settings, save_settings

OLD_CONVERSION = "smollm2-135m-instruct"  # the per-home copy made before issue 9


def _in_use(spec: ModelSpec, settings: Settings) -> bool:
    # A folder override (llm_model / asr_model) wins over the catalog name.
    if spec.role == "llm":
        return spec.name == settings.llm and not settings.llm_model
    return spec.name == settings.asr and not settings.asr_model


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def model_dict(spec: ModelSpec, settings: Settings) -> dict:
    return {"name": spec.name, "role": spec.role, "title": spec.title, "params": spec.params,
            "size_bytes": spec.size, "ram_bytes": spec.ram_bytes, "licence": spec.licence,
            "source": spec.source, "sha256": spec.sha256, "languages": spec.languages,
            "installed": is_installed(spec), "in_use": _in_use(spec, settings),
            "install": None if is_installed(spec) else spec.install_hint(),
            "note": spec.note or None}


def _old_copy(home: Home):
    folder = home.root / "models" / OLD_CONVERSION
    if not folder.is_dir():
        return None
    return folder, sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def cmd_models_list(args: Namespace) -> int:
    home = Home.resolve(args.home)
    settings = load_settings(home.settings_file)
    rows = [model_dict(m, settings) for m in all_models().values()]
    old = _old_copy(home)
    if args.json:
        emit_json({"models": rows, "cache": str(cache.models_cache()),
                   "old_home_conversion": str(old[0]) if old else None})
        return 0
    print(f"{'':2}{'NAME':<22} {'ROLE':<4} {'PARAMS':>6} {'SIZE':>9} {'RAM':>9}  "
          f"{'LICENCE':<22} STATUS")
    for r in rows:
        status = "in use" if r["in_use"] else ("installed" if r["installed"] else "not installed")
        print(f"{'*' if r['in_use'] else ' '} {r['name']:<22} {r['role']:<4} "
              f"{_params(r['params']):>6} {_mb(r['size_bytes']):>9} {_mb(r['ram_bytes']):>9}  "
              f"{r['licence']:<22} {status}")
    print(f"\nRAM is an estimate: the file, plus for a language model its KV cache for 4096 "
          f"tokens and 300 MB of working memory. Files are kept in {cache.models_cache()}.")
    for r in rows:
        if not r["installed"]:
            print(f"{r['name']}: {r['install']}.")
    if settings.llm_model:
        print(f"The llm_model folder {settings.llm_model} is used instead of the catalog.")
    if old:
        print(f"{old[0]} ({_mb(old[1])}) is an old per-home conversion that is no longer "
              f"used; you may delete it.")
    return 0


def cmd_models_info(args: Namespace) -> int:
    settings = load_settings(Home.resolve(args.home).settings_file)
    spec = get_model(args.name)
    d = model_dict(spec, settings)
    d.update(ram_estimate="file + f16 KV cache of 4096 tokens + 300 MB" if spec.role == "llm"
             else "file + 200 MB", packages=[f"{p}=={v}" for p, v in spec.packages],
             imported_from=spec.imported_from)
    if args.json:
        emit_json(d)
        return 0
    for key in ("name", "title", "role", "params", "size_bytes", "ram_bytes", "ram_estimate",
                "licence", "languages", "source", "sha256", "installed", "in_use", "install",
                "note"):
        if d.get(key) not in (None, "", []):
            print(f"{key:<12} {d[key]}")
    return 0


def cmd_models_use(args: Namespace) -> int:
    home = Home.resolve(args.home).ensure()
    settings = load_settings(home.settings_file)
    spec = get_model(args.name)
    if not is_installed(spec):
        raise ModelError(f"{spec.name} is not installed; {spec.install_hint()}, then run "
                         f"`persona models use {spec.name}` again.")
    if spec.role == "asr" and spec.languages == "en" and settings.asr_language not in (
            "en", "auto"):
        raise ModelError(f"{spec.name} understands English only, but asr_language is "
                         f"{settings.asr_language!r}; run `persona settings set asr_language "
                         f"en` first, or choose a multilingual model such as whisper-base.")
    setattr(settings, spec.role, spec.name)
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
    from persona.core.models.importer import import_gguf

    info(f"Checking and copying {args.file} into {cache.models_cache()} ...")
    spec = import_gguf(args.file, name=args.name, expected_sha256=args.sha256)
    if args.json:
        emit_json(model_dict(spec, load_settings(Home.resolve(args.home).settings_file)))
    else:
        info(f"Imported {spec.name}: {spec.title}, {_params(spec.params)} parameters, "
             f"{_mb(spec.size)}, sha256 {spec.sha256}. Use it with "
             f"`persona models use {spec.name}`.")
    return 0
