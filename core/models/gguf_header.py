"""A GGUF file's header — its key/value metadata and tensor shapes — read without its weights.

gguf-py's ``GGUFReader`` builds a numpy view of every part of every field, which for the
tokenizer's vocabulary (49k strings for SmolLM2, 151k for Qwen2.5) takes 5–15 s; Persona
reads a header on every adapter promotion and model import and needs none of those strings.
This reader walks the same layout (llama.cpp's gguf.md: magic, version, tensor count,
key/value count, the key/values, the tensor infos) and skips array values it is not asked
for by their lengths alone.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"GGUF"
# type id -> struct format of the scalar types (8 = string, 9 = array)
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
            12: "d"}
STRING, ARRAY = 8, 9
MAX_NUMERIC_ARRAY = 4096  # numeric arrays up to this long are returned (per-layer counts)


class HeaderError(ValueError):
    """The bytes are not a GGUF header this reader understands."""


@dataclass
class GGUFHeader:
    version: int
    metadata: dict[str, object] = field(default_factory=dict)
    # name -> dims as the file stores them (ggml order: the innermost first)
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def params(self) -> int:
        total = 0
        for shape in self.tensors.values():
            n = 1
            for d in shape:
                n *= d
            total += n
        return total


class _Cursor:
    def __init__(self, buf, little: bool) -> None:
        self.buf, self.pos, self.order = buf, 0, "<" if little else ">"

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise HeaderError("the header ends early")
        value = struct.unpack_from(self.order + fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise HeaderError("the header ends early")
        self.pos += n

    def string(self) -> str:
        n = self.take("Q")
        start = self.pos
        self.skip(n)
        try:
            return bytes(self.buf[start:self.pos]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HeaderError("a string of the header is not UTF-8") from exc

    def value(self, kind: int):
        """The value of type ``kind`` at the cursor; None for an array it skips."""
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            item, n = self.take("I"), self.take("Q")
            if item in _SCALARS:
                size = struct.calcsize(_SCALARS[item])
                if n <= MAX_NUMERIC_ARRAY:
                    return [self.take(_SCALARS[item]) for _ in range(n)]
                self.skip(size * n)
                return None
            if item == STRING:
                if n > len(self.buf):  # each string takes 8 bytes at least
                    raise HeaderError("an array longer than the file")
                for _ in range(n):
                    self.skip(self.take("Q"))
                return None
            raise HeaderError(f"an array of unknown type {item}")
        raise HeaderError(f"a value of unknown type {kind}")


def read_header(path: str | Path) -> GGUFHeader:
    """The header of the GGUF at ``path``: scalars and strings, numeric arrays up to
    ``MAX_NUMERIC_ARRAY`` long (longer ones and arrays of strings are skipped). Raises
    ``HeaderError`` (a ValueError) or OSError."""
    with open(path, "rb") as f:
        try:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:  # an empty file cannot be mapped
            raise HeaderError("the file is empty") from exc
    with buf:
        if buf[:4] != MAGIC:
            raise HeaderError("no GGUF magic number at the start")
        little = struct.unpack_from("<I", buf, 4)[0] < 0x10000 if len(buf) >= 8 else True
        cur = _Cursor(buf, little)
        cur.skip(4)
        header = GGUFHeader(version=cur.take("I"))
        if header.version < 2:
            raise HeaderError(f"GGUF version {header.version} is older than this reader knows")
        n_tensors, n_kv = cur.take("Q"), cur.take("Q")
        if n_tensors > len(buf) or n_kv > len(buf):
            raise HeaderError("counts larger than the file")
        for _ in range(n_kv):
            key = cur.string()
            kind = cur.take("I")
            value = cur.value(kind)
            if value is not None:
                header.metadata[key] = value
        for _ in range(n_tensors):
            name = cur.string()
            dims = cur.take("I")
            if dims > 8:
                raise HeaderError(f"tensor {name!r} has {dims} dimensions")
            shape = tuple(cur.take("Q") for _ in range(dims))
            cur.take("I")  # type
            cur.take("Q")  # offset
            header.tensors[name] = shape
        return header
