"""Memory: embeddings, the LanceDB store, hybrid retrieval and text import.

LanceDB's Rust side logs deprecation notes and k-means hints straight to stderr, where they
would interleave with the CLI's output; its real failures raise exceptions anyway. Set
``LANCEDB_LOG=warn`` to see them. (Read once, when lancedb is first imported.)
"""

import os

os.environ.setdefault("LANCEDB_LOG", "error")
