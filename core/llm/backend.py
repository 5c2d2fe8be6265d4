"""The language-model backend protocol: torch everywhere, MLX on Apple Silicon (and Linux CPU)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class GenerationOptions:
    max_new_tokens: int = 160
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 0.95
    stop: list[str] = field(default_factory=list)


class LLMBackend(ABC):
    """A chat model that streams its reply piece by piece."""

    name: str = "llm"
    # Why the person's adapter is not applied (trained for another base model), else None.
    adapter_note: str | None = None

    @abstractmethod
    def stream_chat(self, messages: list[dict[str, str]],
                    options: GenerationOptions | None = None) -> Iterator[str]:
        """Yield text pieces of the assistant's reply to ``messages``
        (a list of {"role": "system"|"user"|"assistant", "content": str})."""

    def prefill(self, messages: list[dict[str, str]], *, cancel=None,
                open_end: bool = False) -> None:
        """Read ``messages`` into the model's cache without generating, so a later prompt
        that starts with them only has to read the rest (the live voice turn calls this
        while the person is still speaking). ``cancel`` (a ``threading.Event``) set from
        another thread stops the reading soon, keeping what was read. ``open_end``: the
        last message goes on (the question still being spoken), so nothing after its text
        is read. Backends without a reusable cache do nothing."""
        return None

    def chat(self, messages: list[dict[str, str]],
             options: GenerationOptions | None = None) -> str:
        return "".join(self.stream_chat(messages, options))

    @property
    @abstractmethod
    def adapter_loaded(self) -> bool:
        """True when a LoRA adapter of the person is applied to the base model."""
