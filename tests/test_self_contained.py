"""Tests and benchmarks read nothing outside the repository.

A fresh clone of the public repository has no folder beside it and no developer's home: a
test that reads a corpus from such a place passes here and fails everywhere else (issue 9: 21 training
tests did). Two checks: the sources of tests/ and benchmarks/ are scanned for paths that
leave the repository (this file), and while the tests run, an audit hook fails any test
that opens a file outside it (tests/outside_reads.py, installed by tests/conftest.py).
Benchmarks may read an external corpus only when it is given explicitly (a command-line
argument), never from a path written in the source.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import OUTSIDE, ROOT

SCANNED = ("tests", "benchmarks")
# Absolute folders no clone has, a parent folder ("../", or ".." as a path part).
_OUTSIDE = re.compile(r"(^|[\s\"'=(])/(work|home|root|Users|mnt|media)/|\.\./|\.\.\\|"
                      r"[\"']\.\.[\"']")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _from_file(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(node))


def _levels_up(node: ast.AST) -> int | None:
    """How many folders above its own file's folder ``node`` goes, if it is built from
    ``__file__`` with ``.parents[N]`` or a chain of ``.parent``; else None."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents" and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int) and _from_file(node.value.value)):
        return node.slice.value
    chain = 0
    while isinstance(node, ast.Attribute) and node.attr == "parent":
        chain, node = chain + 1, node.value
    return chain - 1 if chain and _from_file(node) else None


def escapes(source: str, rel: Path) -> list[str]:
    """What in ``source`` (the file at ``rel`` in the repository) points outside it."""
    tree = ast.parse(source, filename=str(rel))
    skip, found = _docstrings(tree), []
    depth = len(rel.parts) - 1  # .parents[depth] of the file is the repository's root
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in skip and (_OUTSIDE.search(node.value)
                                              or node.value == "..")):
            found.append(f"{rel}:{node.lineno}: {node.value[:60]!r}")
        up = _levels_up(node)
        if up is not None and up > depth:
            found.append(f"{rel}:{node.lineno}: {ast.unparse(node)} leaves the repository")
    return found


def test_no_test_or_benchmark_names_a_path_outside_the_repository():
    files = [p for folder in SCANNED for p in sorted((ROOT / folder).rglob("*.py"))
             if p != Path(__file__).resolve()]  # this file names the patterns on purpose
    assert len(files) > 50
    found = [hit for p in files
             for hit in escapes(p.read_text(encoding="utf-8"), p.relative_to(ROOT))]
    assert found == [], ("tests and benchmarks must not read outside the repository (a fresh "
                         "clone has nothing beside it): ship, generate or pip-install the data; "
                         f"{found}")


def test_the_scan_finds_what_it_looks_for():
    src = '''
"""A docstring may say ../corpora."""
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
UP = Path(__file__).resolve().parents[2]
UP2 = Path(__file__).parent.parent.parent
CORPUS = ROOT / ".." / "corpora" / "tiny.txt"
OTHER = f"{ROOT}/../corpora/tiny.txt"
ABS = Path("/work/corpora/tiny.txt")
FINE = "/tmp/x", "a..b", "1/2"
'''
    found = escapes(src, Path("tests/test_x.py"))
    lines = sorted({int(hit.split(":")[1]) for hit in found})
    assert lines == [5, 6, 7, 8, 9], found
    deeper = "from pathlib import Path\nROOT = Path(__file__).resolve().parents[2]\n"
    assert escapes(deeper, Path("tests/core/test_x.py")) == []  # the root, one level deeper


def test_the_audit_hook_reports_a_file_opened_outside(tmp_path, monkeypatch):
    # Pretend tmp is outside: the hook installed for the session must then report this open.
    target = tmp_path / "outside.txt"
    target.write_text("x")
    outside_roots = tuple(r for r in OUTSIDE.roots if not str(target).startswith(r))
    monkeypatch.setattr(OUTSIDE, "roots", outside_roots)
    OUTSIDE.take()
    target.read_text()
    (tmp_path / "missing.txt").exists()  # a path that does not exist is never reported
    assert OUTSIDE.take() == [str(target)]


def test_the_scripts_find_the_checkout_from_their_own_place():
    """The README's commands work from a clone in any folder (a space in its path too):
    every script finds the checkout from its own location, and names no folder outside it."""
    scripts = sorted((ROOT / "scripts").glob("*.sh")) + sorted(ROOT.glob("packaging/*/*.sh"))
    assert len(scripts) >= 4
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert 'ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/' in text, script.name
        assert not _OUTSIDE.search(text.replace('"$(dirname "${BASH_SOURCE[0]}")/..', "")), \
            script.name
