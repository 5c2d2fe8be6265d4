"""The persona prefix's KV state kept on disk, so a new process skips reading it again.

Every prompt starts with the same fixed part: the system prompt (profile, today's date,
rules) and the worked example (persona.core.persona.prompt). On 2 cores llama.cpp reads those
~250 tokens in 1-2 s, which a cold `persona ask` pays before its first word. Its KV cells are
~3 MB (Qwen2.5-0.5B: 12 KB a token) and come back in ~10 ms with llama.cpp's per-sequence
state functions (``llama_state_seq_get_data`` / ``llama_state_seq_set_data``); the whole
``Llama.save_state()`` would be ~200 MB, because it holds every position's logits.

One file per home: ``<home>/cache/llm-prefix/<key>.kv``, private (0600 in a 0700 folder),
written atomically. ``key`` hashes what the cells depend on: the model file (path, size,
mtime: hashing 400 MB would cost more than it saves), the adapter file, llama.cpp's version
and the prefix's tokens. Writing a new one removes the others (stale: another day, profile,
adapter or model). A file that does not match or fails its checksum is ignored with a note,
and the prefix is read as usual.

It depends only on the profile (the memories and the conversation come after the prefix), so
it is derived data like the profile: never in a bundle (core/bundle.py copies named parts
only), and `persona forget` deletes it (its profile may have drawn on what was forgotten);
after any other profile change its key no longer matches and the next prompt replaces it.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import struct
import threading
from pathlib import Path

import numpy as np

from persona.core.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

MAGIC = b"PKV1"
SUFFIX = ".kv"
_HEAD = struct.Struct("<4sI32s")  # magic, token count, sha256 of tokens + state


def state_dir(home_root: Path) -> Path:
    """Where a home keeps its prefix state (``Home.root``/cache/llm-prefix)."""
    return Path(home_root) / "cache" / "llm-prefix"


def clear(home_root: Path) -> int:
    """Delete the home's prefix states (``persona forget``); returns how many files."""
    folder = state_dir(home_root)
    n = len(list(folder.glob(f"*{SUFFIX}"))) if folder.is_dir() else 0
    shutil.rmtree(folder, ignore_errors=True)
    return n


def file_identity(path: Path | None) -> str:
    """What identifies a model or adapter file cheaply: its path, size and mtime."""
    if path is None:
        return "-"
    st = Path(path).stat()
    return f"{Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns}"


def fixed_messages(messages: list[dict[str, str]]) -> int:
    """How many leading ``messages`` are the persona's fixed part: the system prompt and the
    worked example after it (0 when the prompt does not start so)."""
    from persona.core.persona.prompt import EXAMPLE

    if not messages or messages[0].get("role") != "system":
        return 0
    n = len(EXAMPLE)
    # Only when a message follows: the prefix must end before the prompt's last message.
    if len(messages) > 1 + n and tuple(messages[1:1 + n]) == EXAMPLE:
        return 1 + n
    return 1 if len(messages) > 1 else 0


class PrefixStateStore:
    """Saves and restores sequence 0's KV cells for a token prefix (see the module)."""

    def __init__(self, folder: Path, identity: str) -> None:
        import llama_cpp

        self.folder = Path(folder)
        self.identity = f"{identity}|llama_cpp {llama_cpp.__version__}"
        self._writer: threading.Thread | None = None

    def path(self, tokens: list[int]) -> Path:
        h = hashlib.sha256(self.identity.encode())
        h.update(np.asarray(tokens, dtype="<i4").tobytes())
        return self.folder / f"{h.hexdigest()[:32]}{SUFFIX}"

    def load(self, tokens: list[int]) -> bytes | None:
        """The saved state of ``tokens``, or None (with a note when a file is there but
        unreadable, damaged or saved for other tokens)."""
        path = self.path(tokens)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.info("prefix state %s unreadable (%s); reading the prompt instead", path, exc)
            return None
        state = _check(data, tokens)
        if state is None:
            log.info("prefix state %s is damaged or saved for other tokens; ignored (it is "
                     "replaced after this prompt)", path.name)
        return state

    @staticmethod
    def apply(ctx, state: bytes) -> bool:
        """Put ``state`` into ``ctx``'s sequence 0, which the caller emptied; False (with a
        note) when llama.cpp refuses it."""
        import llama_cpp

        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if not llama_cpp.llama_state_seq_set_data(ctx, buf, len(state), 0):
            log.info("llama.cpp refused the saved prefix state; reading the prompt instead")
            return False
        return True

    def save(self, ctx, tokens: list[int]) -> None:
        """Copy sequence 0's cells (they hold exactly ``tokens``) now; write them to disk
        on a thread, so the prompt reading goes on meanwhile."""
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0) != size:
            log.info("llama.cpp gave no prefix state to save; skipped")
            return
        state = bytes(buf)
        path = self.path(tokens)
        self.wait()
        # Not a daemon: a short `persona ask` finishes writing before the process ends.
        self._writer = threading.Thread(target=self._write, args=(path, tokens, state),
                                        name="persona-prefix-state")
        self._writer.start()

    def wait(self) -> None:
        if self._writer is not None:
            self._writer.join()

    def _write(self, path: Path, tokens: list[int], state: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.folder, 0o700)
            tok = np.asarray(tokens, dtype="<i4").tobytes()
            digest = hashlib.sha256(tok + state).digest()
            atomic_write_bytes(path, _HEAD.pack(MAGIC, len(tokens), digest) + tok + state)
            for old in self.folder.glob(f"*{SUFFIX}"):
                if old != path:
                    old.unlink(missing_ok=True)  # stale: another day, profile or model
        except OSError as exc:  # only the next cold start loses
            log.warning("could not save the prefix state in %s: %s", self.folder, exc)


def _check(data: bytes, tokens: list[int]) -> bytes | None:
    """The state in ``data`` when it is whole and saved for ``tokens``, else None."""
    if len(data) < _HEAD.size:
        return None
    magic, n, digest = _HEAD.unpack_from(data)
    tok = np.asarray(tokens, dtype="<i4").tobytes()
    body = data[_HEAD.size:]
    if magic != MAGIC or n != len(tokens) or body[:len(tok)] != tok:
        return None
    if hashlib.sha256(body).digest() != digest or len(body) == len(tok):
        return None
    return body[len(tok):]
