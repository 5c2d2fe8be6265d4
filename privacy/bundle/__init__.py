"""The encrypted persona bundle: the format (docs/bundle-format.md) and its crypto.

``write_bundle`` and ``read_bundle`` move plain folders and streams in and out of a bundle;
what goes into one (memories, adapters, ledger) is chosen by ``core.bundle``.
"""

from persona.privacy.bundle.reader import read_bundle
from persona.privacy.bundle.writer import write_bundle

__all__ = ["read_bundle", "write_bundle"]
