"""A second real text for the training benchmarks: the prose of Python's language reference.

Every Python carries it (``pydoc_data.topics``, the text ``help("assert")`` shows; written by
the Python developers, PSF licence), so a clone needs nothing more. It is modern expository
English, unlike Shakespeare's verse: a check that what the benchmarks find about DP training
is not a property of one text. A record is one paragraph of prose (code blocks, grammar rules
and section underlines left out); paragraphs keep the topics' order, so a split by position
(first 90% / last 10%) holds out whole topics. The text differs a little between Python
versions: ``corpus_digest()`` names the one a benchmark ran on.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

_UNDERLINE = re.compile(r"^[*=\-~^\"]{3,}$")
MIN_WORDS = 8  # a shorter paragraph is a caption or a list item, not prose


@cache
def paragraphs() -> tuple[str, ...]:
    """The reference's prose paragraphs, in topic order (topics sorted by name)."""
    from pydoc_data.topics import topics

    out: list[str] = []
    for name in sorted(topics):
        for block in re.split(r"\n\s*\n", topics[name]):
            lines = block.splitlines()
            if not lines or lines[0].startswith((" ", "\t")):
                continue  # a code block or a grammar rule (indented)
            lines = [ln for ln in lines if not _UNDERLINE.match(ln.strip())]
            text = " ".join(" ".join(lines).split())
            if len(text.split()) >= MIN_WORDS:
                out.append(text)
    return tuple(out)


def corpus_digest() -> str:
    """sha256 of the paragraphs, to say which version of the text a result came from."""
    return hashlib.sha256("\n\n".join(paragraphs()).encode("utf-8")).hexdigest()[:16]
