"""What both backends share around generation: input checks and stop strings.

Pure Python, no model: the backends feed it their streamed text pieces.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Iterator

from persona.core.errors import SettingsError, TextError
from persona.core.llm.backend import GenerationOptions, LLMBackend

ROLES = ("system", "user", "assistant")


def check_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Return ``messages`` as plain {"role", "content"} dicts, or raise TextError."""
    if not isinstance(messages, list) or not messages:
        raise TextError("The conversation is empty; give at least one "
                        "{'role': 'user', 'content': ...} message.")
    clean = []
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        content = m.get("content") if isinstance(m, dict) else None
        if role not in ROLES:
            raise TextError(f"Message {i} has role {role!r}; use one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise TextError(f"Message {i} has content {content!r}; it must be a string.")
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] == "assistant":
        raise TextError("The last message is the assistant's; end the conversation with a "
                        "user (or system) message to get a reply.")
    return clean


def check_options(options: GenerationOptions | None) -> GenerationOptions:
    """The options to use (defaults when None); SettingsError names a bad value."""
    o = options or GenerationOptions()
    if not isinstance(o.max_new_tokens, int) or o.max_new_tokens < 1:
        raise SettingsError(f"max_new_tokens is {o.max_new_tokens!r}; it must be a whole "
                            "number of at least 1.")
    if not o.temperature >= 0:  # also rejects NaN
        raise SettingsError(f"temperature is {o.temperature!r}; use 0 (greedy) or more.")
    if not 0 < o.top_p <= 1:
        raise SettingsError(f"top_p is {o.top_p!r}; it must be in (0, 1].")
    if any(not isinstance(s, str) or not s for s in o.stop):
        raise SettingsError(f"stop is {o.stop!r}; every stop string must be non-empty text.")
    return o


def default_threads() -> int:
    """One compute thread per core, less one for audio and the UI, at most 8.

    On 2 busy cores one torch thread is about 3x faster than two (measured here: 7 vs 2.3
    tokens/s): OpenMP threads wait on each other whenever one of them is descheduled.
    """
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def check_length(prompt_tokens: int, options: GenerationOptions, context: int | None) -> None:
    """Raise TextError when the prompt plus the reply cannot fit the model's context."""
    if context and prompt_tokens + options.max_new_tokens > context:
        raise TextError(f"The conversation is {prompt_tokens} tokens and the reply may take "
                        f"{options.max_new_tokens} more, but the model holds {context}; "
                        "keep fewer turns of history (the history_turns setting) or shorten "
                        "the memories in the prompt.")


class StopFilter:
    """Cut a stream of text at the first stop string.

    Text that might be the start of a stop string is held back until the next piece shows
    whether it is; the stop string itself is never emitted.
    """

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.stopped = False
        self._held = ""

    def feed(self, piece: str) -> str:
        """Add ``piece``; return the text that is now safe to emit."""
        if self.stopped:
            return ""
        text = self._held + piece
        if not self.stops:
            return text
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped, self._held = True, ""
            return text[:cut]
        keep = self._partial_stop_len(text)
        self._held = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep]

    def flush(self) -> str:
        """The held-back text, at the end of the stream (it turned out not to be a stop)."""
        text, self._held = ("" if self.stopped else self._held), ""
        return text

    def _partial_stop_len(self, text: str) -> int:
        # Longest tail of ``text`` that is a proper prefix of some stop string.
        best = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(text)), best, -1):
                if text.endswith(s[:n]):
                    best = n
                    break
        return best


class PromptCheckedBackend(LLMBackend):
    """``stream_chat`` for backends that encode the prompt themselves: bad input raises at
    once (not on the first piece), then ``_generate`` streams from the prompt ids."""

    context: int | None = None

    def stream_chat(self, messages: list[dict[str, str]],
                    options: GenerationOptions | None = None) -> Iterator[str]:
        """Yield the reply to ``messages`` piece by piece (bad input raises here, at once)."""
        options = check_options(options)
        ids = self.encode(messages)
        check_length(len(ids), options, self.context)
        return self._generate(ids, options)

    def complete(self, text: str, options: GenerationOptions | None = None) -> str:
        """``text`` continued as plain text, without the chat template: how the model writes
        on its own (the fidelity report's style samples: the adapter is trained so)."""
        options = check_options(options)
        ids = self.encode_text(text)
        check_length(len(ids), options, self.context)
        return "".join(self._generate(ids, options))

    def encode_text(self, text: str) -> list[int]:
        """Plain ``text``'s tokens, with a start token only where the tokenizer adds one."""
        return list(self.tokenizer.encode(text))

    @abstractmethod
    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt tokens of ``messages`` with the chat template's assistant cue."""

    @abstractmethod
    def _generate(self, ids: list[int], options: GenerationOptions) -> Iterator[str]:
        """Stream the reply to the prompt ``ids``."""
