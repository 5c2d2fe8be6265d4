"""Models as a first-class thing: the catalog, the per-user cache, imported GGUF files.

- ``catalog``: every model Persona knows (built in, or imported by the person).
- ``cache``: the per-user cache folder, sha256 checks recorded once, joining parts.
- ``files``: the file or folder of a catalog model, joined and verified on first use.
- ``gguf_file``: what a GGUF header says (architecture, chat template, sizes).
- ``importer``: ``persona models import FILE.gguf``.
"""
