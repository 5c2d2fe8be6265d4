"""LanceDB's REST namespace client is imported only when asked for (core/memory/
lazy_rest_client.py), and LanceDB works the same. Each check runs in a new interpreter: this
one has imported lancedb already."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import sys, tempfile
import persona.core.memory  # installs the deferred package before lancedb is imported
import lancedb
import pyarrow as pa

api = "lance_namespace_urllib3_client.api.table_api"
assert api not in sys.modules, "the REST API classes were imported with lancedb"
assert "lance_namespace_urllib3_client.models" in sys.modules  # what lance_namespace needs

db = lancedb.connect(tempfile.mkdtemp())
table = db.create_table("t", pa.table({"id": ["a", "b"], "vector": [[0.0, 1.0], [1.0, 0.0]]}))
hits = table.search([0.9, 0.1]).limit(1).to_list()
assert hits[0]["id"] == "b", hits
assert api not in sys.modules

# Asked for, the package runs its own __init__ in full and answers.
from lance_namespace_urllib3_client import ApiClient, TableApi
assert api in sys.modules and TableApi.__module__ == api and ApiClient.__name__ == "ApiClient"

from persona.core.memory.lazy_rest_client import defer_rest_client
assert defer_rest_client() is False  # already imported: left alone
print("ok")
"""


def test_lancedb_works_without_its_rest_client_and_the_client_loads_when_asked():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
