"""The package boundaries of DESIGN.md: core/ and privacy/ never import Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLESS = ("core", "privacy")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _forbidden(name: str) -> bool:
    top = name.split(".")[0]
    return top in ("PySide6", "PyQt5", "PyQt6") or name.startswith("persona.desktop")


def test_no_qt_import_in_source():
    offenders = [str(p.relative_to(ROOT)) for pkg in HEADLESS
                 for p in sorted((ROOT / pkg).rglob("*.py"))
                 if any(_forbidden(n) for n in _imports(p))]
    assert offenders == [], f"these headless modules import Qt or desktop/: {offenders}"


def test_importing_every_headless_module_loads_no_qt():
    modules = [".".join(("persona", *p.relative_to(ROOT).with_suffix("").parts))
               for pkg in HEADLESS for p in sorted((ROOT / pkg).rglob("*.py"))]
    modules = [m.removesuffix(".__init__") for m in modules]
    assert "persona.core.cli" in modules and len(modules) > 10
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "bad = sorted(k for k in sys.modules\n"
            "             if k.split('.')[0] == 'PySide6' or k.startswith('persona.desktop'))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing core/privacy loaded {out.stdout.strip()}"


def test_every_import_of_our_code_goes_through_the_persona_package():
    """Installed, the folders live under `persona`: an import of a bare `core`, `privacy` or
    `desktop` would work in the checkout and fail from the wheel."""
    bare = [f"{p.relative_to(ROOT)}: {n}"
            for folder in ("core", "privacy", "desktop", "tests", "benchmarks")
            for p in sorted((ROOT / folder).rglob("*.py"))
            for n in _imports(p) if n.split(".")[0] in ("core", "privacy", "desktop")]
    assert bare == []
