"""Memory: embeddings, the LanceDB store, hybrid retrieval and text import.

LanceDB's Rust side logs deprecation notes and k-means hints straight to stderr, where they
would interleave with the CLI's output; its real failures raise exceptions anyway. Set
``LANCEDB_LOG=warn`` to see them. (Read once, when lancedb is first imported.)

LanceDB's REST namespace client, which Persona never uses, is imported only if something
asks for it (lazy_rest_client.py): half of ``import lancedb``'s time.
"""

import os

from persona.core.memory.lazy_rest_client import defer_rest_client

os.environ.setdefault("LANCEDB_LOG", "error")
defer_rest_client()
