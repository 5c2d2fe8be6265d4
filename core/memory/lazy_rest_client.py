"""LanceDB without the start-up cost of its REST namespace client, which Persona never uses.

``import lancedb`` imports ``lance_namespace``, which imports the data models of
``lance_namespace_urllib3_client``; Python runs that package's ``__init__`` first, and it
imports every REST API class, each method wrapped in pydantic's ``validate_call``: ~1 s of
Python (holding the GIL) measured on the 2-vCPU Xeon, half of ``import lancedb`` (1.8–2.1 s
→ 0.9–1.1 s), in every cold `persona` command and at every app start, beside the language
model loading on another thread.

So before lancedb is first imported, the package is put in ``sys.modules`` as its real
module object with its ``__path__``, but with its ``__init__`` not yet run: submodules
(``.models``, which lance_namespace needs) import as usual, and the first time anything asks
the package itself for a name (``from lance_namespace_urllib3_client import ApiClient``, a
REST namespace connection) its ``__init__`` runs, in full, and answers. Nothing is replaced
or left out: the same code runs, later or never. When the package is missing or already
imported, nothing is done.
"""

from __future__ import annotations

import importlib.util
import sys

PACKAGE = "lance_namespace_urllib3_client"


def defer_rest_client() -> bool:
    """Install the deferred package (True), or leave things as they are (False)."""
    if PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return False
    module = importlib.util.module_from_spec(spec)  # __path__, __spec__, __file__ set

    def __getattr__(name: str):  # noqa: N807 - PEP 562 module attribute hook
        # First use of the package's own names: run its real __init__ now, then answer.
        # (Submodules already imported are found in sys.modules, not run again.)
        del module.__getattr__
        spec.loader.exec_module(module)
        return getattr(module, name)

    module.__getattr__ = __getattr__
    sys.modules[PACKAGE] = module
    return True
