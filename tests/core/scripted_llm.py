"""A language model that stands in for a real one in tests that check the prompt or the
reply path, not what a model would say: it records every prompt and streams a fixed reply
word by word, counting how many pieces were read."""

from __future__ import annotations

from persona.core.llm.backend import LLMBackend


class ScriptedLLM(LLMBackend):
    def __init__(self, reply: str = "OK") -> None:
        self.pieces = [w + " " for w in reply.split(" ")]
        self.pieces[-1] = self.pieces[-1].rstrip()
        self.read = 0
        self.prompts: list[list[dict[str, str]]] = []

    def stream_chat(self, messages, options=None):
        self.prompts.append(messages)
        for piece in self.pieces:
            self.read += 1
            yield piece

    @property
    def adapter_loaded(self) -> bool:
        return False
