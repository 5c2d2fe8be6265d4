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


# ---- privacy/ stands alone (DESIGN.md) ---------------------------------------------------
# privacy/ depends on nothing in core/ but errors; a ledger takes a path, and plans and
# reports are functions over a ledger, so no module of privacy/ imports its own importer.


def _privacy_modules() -> dict[str, Path]:
    return {".".join(("persona", *p.relative_to(ROOT).with_suffix("").parts))
            .removesuffix(".__init__"): p for p in sorted((ROOT / "privacy").rglob("*.py"))}


def _imported(module: str, path: Path) -> set[str]:
    """Every module name ``module`` imports, anywhere in it (function bodies and
    TYPE_CHECKING blocks too), ``from a import b`` giving both a and a.b."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def test_privacy_imports_nothing_of_core_but_errors():
    allowed = "persona.core.errors"
    bad = sorted({f"{m}: {n}" for m, p in _privacy_modules().items() for n in _imported(m, p)
                  if n.startswith("persona.core.")
                  and not (n == allowed or n.startswith(allowed + "."))})
    assert bad == [], f"privacy/ may import only {allowed} from core/: {bad}"


def test_no_import_cycle_in_privacy():
    modules = _privacy_modules()

    def target(name: str) -> str | None:  # the privacy module a name lives in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name if name and name != "persona.privacy" else None

    graph = {m: {t for n in _imported(m, p) if (t := target(n)) and t != m}
             for m, p in modules.items()}
    assert graph["persona.privacy.plan"] >= {"persona.privacy.ledger"}  # the graph is real
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> list[str] | None:
        if m in path:
            return [*path[path.index(m):], m]
        if m in done:
            return None
        for nxt in sorted(graph[m]):
            cycle = visit(nxt, [*path, m])
            if cycle:
                return cycle
        done.add(m)
        return None

    for m in sorted(graph):
        cycle = visit(m, [])
        assert cycle is None, "privacy/ import cycle: " + " -> ".join(cycle)


def test_code_run_in_a_child_interpreter_imports_through_the_persona_package_too():
    """Tests hand source to `python -c`; a bare `from core...` there worked only from the
    checkout's root (and loaded a second copy of the code)."""
    import re

    bare = re.compile(r"(?:^|[\s;\"'(]|\\n)(?:from|import) (?:core|privacy|desktop)[.\s]")
    found = []
    for folder in ("core", "privacy", "desktop", "tests", "benchmarks", "scripts"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and bare.search(node.value)):
                    found.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert found == []
