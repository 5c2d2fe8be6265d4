"""The llama.cpp backend on the real SmolLM2 GGUF: streaming, the prefix cache, the person's
adapter (against torch on the same adapter), broken files.

Nothing is mocked. The adapter tests train or make real peft adapters and compare llama.cpp's
held-out loss with torch's on the float32 conversion of the same GGUF.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from persona.core.errors import ModelError, SettingsError
from persona.core.llm.abort import StopSignal
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.factory import backend_name, load_backend
from persona.core.llm.llamacpp_backend import LlamaCppBackend
from persona.core.llm.lora_gguf import ADAPTER_FILE, GGUF_FOLDER, permute_rows
from persona.core.llm.models import ensure_model_folder
from persona.core.models.catalog import get_model
from persona.core.models.files import llm_file
from persona.core.models.requantize import runtime_copy
from persona.core.paths import Home
from persona.core.settings import Settings
from tests.core.llm.conftest import FAST_LLM

PERSONA = {"role": "system", "content": (
    "You are Persona, the private assistant of Ada Lind. Ada lives in Oslo, works as a "
    "marine biologist and has a grey whippet called Oskar. Answer in one short sentence, "
    "from what you know about Ada; say you do not know when you do not.")}
Q1 = [PERSONA, {"role": "user", "content": "What is my dog's name?"}]
Q2 = [PERSONA, {"role": "user", "content": "Where do I live?"}]
GREEDY = GenerationOptions(max_new_tokens=24)
# Facts to train on, and the same facts in other words to judge the adapter by.
TRAIN = ("My sister Ingrid lives in Bergen and works as a nurse at Haukeland hospital. "
         "My dog Oskar is a grey whippet.")
HELD_OUT = ("Ingrid, my sister, is a nurse at Haukeland hospital in Bergen, and Oskar, my "
            "dog, is a grey whippet.")


@pytest.fixture(scope="module")
def gguf() -> Path:
    """SmolLM2's GGUF (FAST_LLM): the adapter tests below pair it with its conversion."""
    return llm_file(get_model(FAST_LLM, "llm"))


@pytest.fixture(scope="module")
def backend(gguf) -> LlamaCppBackend:
    return LlamaCppBackend(gguf)


def test_streams_pieces_that_join_to_the_reply_and_greedy_repeats(backend):
    pieces = list(backend.stream_chat(Q1, GREEDY))
    assert len(pieces) > 3 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == backend.chat(Q1, GREEDY)  # greedy: the same reply again
    assert 0 < backend.last_stats.generated_tokens <= GREEDY.max_new_tokens


def test_plain_text_is_continued_without_the_chat_template(backend):
    # The fidelity report's style samples: the model goes on from the person's words.
    ids = backend.encode_text("My sister lives in")
    assert backend.llm.detokenize(ids).decode() == "My sister lives in"  # no template, no cue
    more = backend.complete("My sister lives in", GenerationOptions(max_new_tokens=6))
    assert more.strip() and backend.last_stats.generated_tokens <= 6


def test_stop_strings_and_max_new_tokens(backend):
    full = backend.chat(Q1, GREEDY)
    cut = full.split(" ")[2]  # a word inside the reply
    stopped = backend.chat(Q1, GenerationOptions(max_new_tokens=24, stop=[cut]))
    assert full.startswith(stopped) and cut not in stopped
    backend.chat(Q1, GenerationOptions(max_new_tokens=3))
    assert backend.last_stats.generated_tokens == 3


def test_second_question_reuses_the_persona_prefix_and_answers_as_a_fresh_model(gguf):
    backend = LlamaCppBackend(gguf)
    backend.chat(Q1, GREEDY)
    first = backend.last_stats
    assert first.evaluated_tokens == first.prompt_tokens  # a new prompt: all read
    second_reply = backend.chat(Q2, GREEDY)
    second = backend.last_stats
    # Only what follows the system prompt is read again.
    assert second.evaluated_tokens < second.prompt_tokens / 3, second
    assert second.reused_tokens >= len(backend.encode([PERSONA])) - 2
    fresh = LlamaCppBackend(gguf)
    assert fresh.chat(Q2, GREEDY) == second_reply  # the cache changes nothing but the time
    assert fresh.last_stats.evaluated_tokens == fresh.last_stats.prompt_tokens


def test_prefill_reads_the_prompt_before_the_question_is_asked(backend):
    backend.chat(Q1, GREEDY)
    want = backend.chat(Q2, GREEDY)
    backend.chat(Q1, GREEDY)  # the cache holds Q1 and its reply again
    read = backend.prefill(Q2)
    assert 0 < read < len(backend.encode(Q2))
    assert backend.prefill(Q2) == 0  # already there
    assert backend.chat(Q2, GREEDY) == want
    assert backend.last_stats.evaluated_tokens == 0


def test_an_open_prefill_reads_the_words_heard_so_far_and_no_end_of_turn(backend):
    heard = [PERSONA, {"role": "user", "content": "Where do I"}]
    full = [PERSONA, {"role": "user", "content": "Where do I live?"}]
    ids, open_ids = backend.encode(full), backend.encode_open(heard)
    assert ids[:len(open_ids)] == open_ids and len(open_ids) < len(backend.encode(heard))
    want = backend.chat(full, GREEDY)
    backend.chat(Q1, GREEDY)  # the cache holds Q1 and its reply again
    backend.prefill(heard, open_end=True)
    assert backend.chat(full, GREEDY) == want
    assert backend.last_stats.evaluated_tokens == len(ids) - len(open_ids)


def test_prompts_are_read_on_the_cores_nothing_else_holds(gguf, monkeypatch):
    import persona.core.llm.llamacpp_backend as mod

    assert isinstance(mod.busy_elsewhere(), int)  # Linux: the kernel's runnable count
    busy = LlamaCppBackend(gguf)
    # The machine's load cannot be set from a test: the count of busy threads is given.
    monkeypatch.setattr(mod, "busy_elsewhere", lambda: 5)
    crowded = busy.chat(Q2, GREEDY)
    assert busy._batch_threads == 1 and busy._threads == 1  # reading and decoding
    idle = LlamaCppBackend(gguf)
    monkeypatch.setattr(mod, "busy_elsewhere", lambda: 0)
    assert idle.chat(Q2, GREEDY) == crowded  # the thread count changes only the time
    assert idle._batch_threads == idle._threads == mod.prompt_threads()
    fixed = LlamaCppBackend(gguf, batch_threads=1, threads=1)
    fixed.chat(Q2, GREEDY)
    assert fixed._batch_threads == fixed._threads == 1  # explicit counts are kept


def test_our_own_threads_are_not_counted_as_busy_elsewhere():
    import threading

    import persona.core.llm.llamacpp_backend as mod

    quiet = mod.busy_elsewhere()
    stop = threading.Event()

    def spin() -> None:  # a thread of this process, runnable all the time (as an OpenMP
        while not stop.is_set():  # worker spinning after a decode step)
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        assert mod.busy_elsewhere() <= quiet
    finally:
        stop.set()
        spinner.join()


def test_every_computation_runs_on_the_model_s_own_thread(gguf):
    """Prefill from a pass thread and the reply from the caller's: one thread computes both
    (two OpenMP teams made libgomp sleep between steps and decoding ~40% slower)."""
    import threading

    model = LlamaCppBackend(gguf)
    seen: set[int] = set()
    real_eval = model.llm.eval

    def eval_(tokens):
        seen.add(threading.get_ident())
        return real_eval(tokens)

    model.llm.eval = eval_
    worker = threading.Thread(target=lambda: model.prefill(Q1))
    worker.start()
    worker.join()
    assert model.chat(Q2, GREEDY)
    assert len(seen) == 1 and threading.get_ident() not in seen


class _StopAfter:
    """A cancel flag that turns on after ``n`` looks (the prefill checks it per chunk)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        return self.n < 0


@pytest.mark.parametrize("chunks_read", [0, 1, 3])
def test_an_interrupted_prefill_leaves_a_cache_that_answers_as_a_fresh_model(backend,
                                                                             chunks_read):
    long_q = [PERSONA, {"role": "user", "content": "Where do I live? " * 12}]
    backend.chat(Q1, GREEDY)
    want = backend.chat(long_q, GREEDY)
    backend.chat(Q1, GREEDY)  # the cache holds Q1 and its reply again
    total = len(backend.encode(long_q))
    read = backend.prefill(long_q, cancel=_StopAfter(chunks_read), chunk=8)
    assert read == (8 * chunks_read if chunks_read else 0)  # stopped at a chunk's end
    reply = backend.chat(long_q, GREEDY)
    assert reply == want
    stats = backend.last_stats
    assert stats.evaluated_tokens < total and stats.reused_tokens >= read


class _TripInside(StopSignal):
    """A stop signal set from inside the read of chunk number ``at`` (0 = the first): the
    prefill's look between chunks never sees it, only llama.cpp's abort check does."""

    def __init__(self, llm, at: int) -> None:
        super().__init__()
        self.calls, real_eval = 0, llm.eval

        def eval_(tokens):
            if self.calls == at:
                super(_TripInside, self).set()  # the C flag trips; is_set() stays False
            self.calls += 1
            return real_eval(tokens)

        llm.eval = eval_

    def is_set(self) -> bool:
        return False


@pytest.mark.parametrize("at", [0, 2])
def test_a_stop_signal_stops_a_prefill_in_the_middle_of_a_chunk(gguf, at, capfd, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="persona.llama")
    backend = LlamaCppBackend(gguf)
    long_q = [PERSONA, {"role": "user", "content": "Where do I live? " * 12}]
    want = backend.chat(long_q, GREEDY)
    backend.chat(Q1, GREEDY)  # the cache holds Q1 and its reply again
    signal = _TripInside(backend.llm, at)
    read = backend.prefill(long_q, cancel=signal, chunk=16)
    assert signal.calls == at + 1  # the tripped chunk was the last one begun
    assert read == 16 * at  # the chunks before it are read; the stopped one is not kept
    assert not backend._abort.tripped  # cleared: the reply below is not stopped
    # llama.cpp logs the stopped batch as an error; it is expected, so a debug line, and
    # nothing reaches the terminal (core/llm/llama_log.py).
    stopped = [r for r in caplog.records
               if r.name == "persona.llama" and "failed to decode" in r.getMessage()]
    assert stopped and {r.levelno for r in stopped} == {logging.DEBUG}
    assert capfd.readouterr().err == ""
    del backend.llm.eval  # the real one again
    assert backend.chat(long_q, GREEDY) == want  # no cell of the stopped batch is left


def test_a_stop_signal_set_after_the_prefill_stops_nothing_later(backend):
    signal = StopSignal()
    backend.chat(Q1, GREEDY)
    assert backend.prefill(Q2, cancel=signal) > 0
    signal.set()  # e.g. the key's release just after the pass finished reading
    assert not backend._abort.tripped
    assert backend.chat(Q2, GREEDY) == backend.chat(Q2, GREEDY)
    assert backend.last_stats.generated_tokens > 0


def test_prefill_chunks_never_leave_one_token_alone():
    from persona.core.llm.llamacpp_backend import _chunks

    assert list(_chunks(0, 9, 4)) == [(0, 4), (4, 9)]  # not (8, 9)
    assert list(_chunks(3, 11, 4)) == [(3, 7), (7, 11)]
    assert list(_chunks(5, 5, 4)) == []


def test_llama_cpp_errors_are_logged_not_printed(tmp_path, capfd, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="persona.llama")
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + bytes(64))  # a header that llama.cpp reads, then refuses
    with pytest.raises(ModelError):
        LlamaCppBackend(bad)
    assert any(r.levelno == logging.ERROR for r in caplog.records
               if r.name == "persona.llama")
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_a_broken_gguf_is_a_model_error_naming_the_file(tmp_path, gguf, damage):
    bad = tmp_path / "model.gguf"
    if damage == "truncated":
        with open(gguf, "rb") as f:
            bad.write_bytes(f.read(3_000_000))  # the header and part of the weights
    elif damage == "random":
        bad.write_bytes(np.random.default_rng(0).bytes(1_000_000))
    else:
        bad.write_bytes(b"")
    with pytest.raises(ModelError, match=str(bad)):
        LlamaCppBackend(bad)


def test_missing_gguf_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        LlamaCppBackend(tmp_path / "nope.gguf")


def test_auto_runs_a_model_folder_on_torch_and_llamacpp_refuses_it(tmp_path):
    folder = str(tmp_path)  # only the setting's value matters here
    if backend_name(Settings()) == "llamacpp":  # not on Apple Silicon
        assert backend_name(Settings(llm_model=folder)) == "torch"
    with pytest.raises(SettingsError, match="GGUF files only.*llm_backend to 'torch'"):
        backend_name(Settings(llm_backend="llamacpp", llm_model=folder))


def test_load_backend_builds_llamacpp(home):
    b = load_backend(Settings(llm_backend="llamacpp"), Home.resolve(home))
    assert b.name == "llamacpp" and not b.adapter_loaded


def test_permute_rows_matches_llama_cpp_convert():
    # convert_hf_to_gguf.LlamaModel.permute on a [heads * head_dim, r] matrix: per head,
    # the even rows (first rotary half) then the odd ones become interleaved halves.
    b = np.arange(8 * 2).reshape(8, 2)  # 2 heads of 4 rows
    got = permute_rows(b, heads=2)
    assert got[:, 0].tolist() == [0, 4, 2, 6, 8, 12, 10, 14]


# ---- the person's adapter -----------------------------------------------------------------

@pytest.fixture(scope="module")
def one_torch_thread():
    # On 2 shared cores one torch thread trains ~10x faster than two (8 steps: 8 s vs 90 s).
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smol_folder(tmp_path_factory, one_torch_thread) -> Path:
    """SmolLM2 as a float32 HF folder (the shared test cache's conversion of the GGUF)."""
    home = Home.resolve(tmp_path_factory.mktemp("smol-home"))
    return ensure_model_folder(Settings(llm=FAST_LLM), home)


@pytest.mark.slow
def test_prompt_is_the_ggufs_chat_template(backend, smol_folder):
    # The tokens transformers' apply_chat_template gives with the GGUF's tokenizer and
    # template (saved into the converted folder), which the torch backend reads.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smol_folder)
    for messages in (Q1, [{"role": "user", "content": "Hi"}]):  # with and without system
        want = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
        assert backend.encode(messages) == list(want["input_ids"])


def _torch_nll(model, ids: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].double()
    picked = logits[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    return (torch.logsumexp(logits, -1) - picked).numpy()


def _deltas(folder: Path, gguf: Path, peft_model, adapter_dir: Path, ids: list[int]):
    """Per-token change of the held-out NLL by the adapter: (torch, llama.cpp)."""
    peft_model.eval()
    with peft_model.disable_adapter():
        torch_base = _torch_nll(peft_model, ids)
    torch_adapted = _torch_nll(peft_model, ids)
    base = LlamaCppBackend(gguf, n_ctx=256, logits_all=True).token_nll(ids)
    adapted = LlamaCppBackend(gguf, adapter_dir, n_ctx=256, logits_all=True)
    assert adapted.adapter_loaded
    return torch_adapted - torch_base, adapted.token_nll(ids) - base


@pytest.mark.slow
def test_trained_adapter_moves_llamacpp_heldout_loss_as_it_moves_torchs(smol_folder, gguf,
                                                                         tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # A few non-private Adam steps on every projection: the adapter learns the facts, so it
    # lowers the loss of the same facts in other words by about a nat.
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(smol_folder)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(smol_folder, dtype=torch.float32),
        LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                   target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                   "up_proj", "down_proj"]))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    train = torch.tensor([tok(TRAIN)["input_ids"]])
    for _ in range(8):
        loss = model(input_ids=train, labels=train).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    adapter_dir = tmp_path / "adapter"
    model.save_pretrained(adapter_dir / "peft")  # as promoted before llama.cpp: peft only

    ids = tok(HELD_OUT)["input_ids"]
    d_torch, d_llama = _deltas(smol_folder, gguf, model, adapter_dir, ids)
    assert (adapter_dir / GGUF_FOLDER / ADAPTER_FILE).is_file()  # converted on first load
    t, c = float(d_torch.mean()), float(d_llama.mean())
    assert t < -0.3, f"the adapter should have learned the facts (torch moved {t:+.3f})"
    assert c < 0 and abs(c - t) <= max(0.05, 0.25 * abs(t)), (t, c)

    # The same adapter on the Q4_0 runtime copy llama.cpp runs by default for the catalog's
    # Qwen (core/models/requantize.py; made here from SmolLM2's file). The copy's base
    # predicts a little worse, and the adapter brings it to where it brings the file: the
    # adapted losses agree, so the change is larger on the copy (measured, SmolLM2: torch
    # -1.03, file -1.08, copy -1.42 nats; Qwen 0.5B: -2.16, -2.17, -2.48, adapted 2.05 on
    # the file and 2.01 on the copy).
    copy = runtime_copy(gguf, get_model(FAST_LLM, "llm").sha256, "Q4_0")
    adapted_file = LlamaCppBackend(gguf, adapter_dir, n_ctx=256, logits_all=True)
    adapted_copy = LlamaCppBackend(copy, adapter_dir, n_ctx=256, logits_all=True)
    on_file = float(adapted_file.token_nll(ids).mean())
    on_copy = float(adapted_copy.token_nll(ids).mean())
    copy_base = float(LlamaCppBackend(copy, n_ctx=256, logits_all=True).token_nll(ids).mean())
    assert on_copy < copy_base + t / 2, (t, on_copy, copy_base)  # it learned, on the copy too
    assert abs(on_copy - on_file) <= 0.1 * on_file, (on_file, on_copy)


@pytest.mark.slow
def test_query_and_key_adapters_are_permuted_for_llama(smol_folder, gguf, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Random LoRA on q and k only, B scaled up so it moves the loss by ~0.4 nats. Without
    # the RoPE row permutation llama.cpp's change follows torch's poorly (measured:
    # correlation 0.36 per token, +0.07 vs +0.42 nats); with it, 0.99.
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(smol_folder, dtype=torch.float32),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj"],
                   init_lora_weights=False))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.mul_(3.0)
    adapter_dir = tmp_path / "adapter"
    model.save_pretrained(adapter_dir / "peft")
    ids = AutoTokenizer.from_pretrained(smol_folder)(HELD_OUT)["input_ids"]
    d_torch, d_llama = _deltas(smol_folder, gguf, model, adapter_dir, ids)
    t, c = float(d_torch.mean()), float(d_llama.mean())
    assert abs(t) > 0.2 and np.sign(c) == np.sign(t) and abs(c - t) <= 0.25 * abs(t), (t, c)
    assert np.corrcoef(d_torch, d_llama)[0, 1] > 0.9


@pytest.mark.slow
def test_promoted_adapter_carries_its_gguf_and_a_bad_one_is_a_model_error(smol_folder, gguf,
                                                                         tmp_path):
    from persona.core.llm.lora_gguf import BaseModel, write_gguf_adapter
    from tests.core.llm.conftest import make_peft_adapter

    version = tmp_path / "versions" / "v1"
    make_peft_adapter(smol_folder, version / "peft", layers=[28, 29])
    made = write_gguf_adapter(version, BaseModel.from_file(gguf))
    assert made == version / GGUF_FOLDER / ADAPTER_FILE and made.is_file()
    assert LlamaCppBackend(gguf, version).adapter_path == made
    made.write_bytes(made.read_bytes()[:1000])  # damaged after promotion
    with pytest.raises(ModelError, match=f"{made}.*delete"):
        LlamaCppBackend(gguf, version)
    shutil.rmtree(version / GGUF_FOLDER)  # deleting it, as the message says, converts again
    assert LlamaCppBackend(gguf, version).adapter_loaded


@pytest.mark.slow
def test_an_mlx_only_adapter_is_converted_through_peft(smol_folder, gguf, tmp_path):
    pytest.importorskip("mlx_lm")
    from tests.core.llm.conftest import make_mlx_adapter

    version = tmp_path / "v1"
    make_mlx_adapter(smol_folder, version / "mlx", num_layers=2)  # trained on a Mac
    ids = LlamaCppBackend(gguf).encode(Q1)
    adapted = LlamaCppBackend(gguf, version, n_ctx=256, logits_all=True)
    assert adapted.adapter_path == version / GGUF_FOLDER / ADAPTER_FILE
    assert sorted(p.name for p in version.iterdir()) == [GGUF_FOLDER, "mlx"]  # no leftovers
    base = LlamaCppBackend(gguf, n_ctx=256, logits_all=True)
    assert np.abs(adapted.token_nll(ids) - base.token_nll(ids)).max() > 1e-3
