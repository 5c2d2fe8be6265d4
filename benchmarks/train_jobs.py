"""The training benchmarks' jobs, each run in a process of its own so that its peak memory
(max RSS) is its own:

    python -m benchmarks.train_jobs '{"job": "train", ...}'   # prints one JSON line

Jobs: ``train`` (DP-SGD on torch or MLX, or the plain reference), ``losses`` (each record's
loss under the base model or an adapter), ``norms`` (per-example gradient norms) and
``nightly`` (``persona retrain``'s whole job on a
fresh home holding ~50k tokens of new memories), ``night`` (one night of the schedule on a
home kept between calls, benchmarks/bench_dp_schedule.py) and ``head`` (the trainer's
forward/backward and an evaluation pass, with the vocabulary projection on target positions
or on all of them, benchmarks/bench_target_nll.py).
"""

from __future__ import annotations

import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import train_data


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes vs KiB


def settings_for(model: str | None = None):
    """The default settings, with the catalog language model ``model`` if given."""
    from persona.core.settings import Settings

    return Settings(llm=model) if model else Settings()


def model_folder(model: str | None = None) -> Path:
    from persona.core.llm.models import ensure_model_folder
    from persona.core.paths import Home

    return ensure_model_folder(settings_for(model), Home.resolve())


def the_split(spec: dict) -> train_data.Split:
    return train_data.split(spec["n_train"], spec["n_outside"], spec["n_heldout"],
                            seed=spec.get("seed", 0),
                            corpus=spec.get("corpus", "shakespeare"))


def train(spec: dict) -> dict:
    from persona.core.train.config import LoRAConfig, TrainConfig

    data = the_split(spec)
    config = TrainConfig(noise_multiplier=spec["sigma"], sample_rate=spec["q"],
                         steps=spec["steps"], learning_rate=spec["lr"],
                         clip_norm=spec.get("clip", 1.0),
                         max_seq_len=spec["max_len"], delta=spec.get("delta"),
                         average_iterates=spec.get("average", True),
                         lora=LoRAConfig(layers=spec.get("layers"), rank=spec.get("rank", 8),
                                         alpha=2.0 * spec.get("rank", 8)))
    out = Path(spec["out"])
    if spec["mode"] == "plain":
        from benchmarks.plain_lora import train_plain

        result = train_plain(model_folder(spec.get("model")), data.train, config, out_dir=out)
    else:
        from persona.core.train.runner import trainer

        train_fn = trainer(spec["mode"])[0]
        result = train_fn(model_folder(spec.get("model")), data.train, config, out_dir=out)
    return {"seconds": result.seconds, "tokens": result.tokens, "steps": result.steps_done,
            "epsilon": result.epsilon, "last_losses": result.losses[-5:]}


def losses(spec: dict) -> dict:
    """Mean NLL per record (and held-out perplexity) under the base model or an adapter."""
    from persona.core.evaluate.perplexity import combine, example_nll_torch
    from persona.core.train.lora import merged_model
    from persona.core.train.tokens import encode_examples, pad_id

    data = the_split(spec)
    model, tokenizer = merged_model(model_folder(spec.get("model")), spec.get("adapter"))
    out = {}
    for name in spec.get("sets", ("train", "outside", "heldout")):
        encoded = encode_examples(tokenizer, getattr(data, name), spec["max_len"])
        parts = example_nll_torch(model, encoded, pad_id=pad_id(tokenizer))
        out[name] = [p.nll for p in parts]
        if name == "heldout":
            nll, tokens = combine((p.nll, p.tokens) for p in parts)
            out["heldout_perplexity"], out["heldout_tokens"] = math.exp(nll), tokens
    return out


def norms(spec: dict) -> dict:
    """Quantiles of the per-example gradient norms (before clipping) of ``n`` training
    records at the start of a run, through the trainer's own code path: to choose C."""
    import torch

    from persona.core.train.config import LoRAConfig, TrainConfig
    from persona.core.train.dp_torch import _Trainer

    data = the_split(spec)
    config = TrainConfig(noise_multiplier=0.0, sample_rate=1.0, steps=1,
                         max_seq_len=spec["max_len"],
                         lora=LoRAConfig(layers=spec.get("layers"), rank=spec.get("rank", 8),
                                         alpha=2.0 * spec.get("rank", 8)))
    trainer = _Trainer(model_folder(spec.get("model")), data.train[:spec["n"]], config,
                       spec.get("adapter"), None)
    found: list[float] = []
    for i in range(0, len(trainer.encoded), 8):
        trainer._micro_step(trainer.encoded[i:i + 8])
        squares = sum(p.grad_sample.reshape(len(p.grad_sample), -1).pow(2).sum(1)
                      for _, p in trainer.params)
        found.extend(torch.sqrt(squares).tolist())
        trainer.optimizer.zero_grad(set_to_none=True)
    found.sort()
    return {"n": len(found), **{f"p{k}": found[min(len(found) - 1, len(found) * k // 100)]
                                for k in (10, 25, 50, 75, 90)}}


def head(spec: dict) -> dict:
    """The trainer's forward and backward passes over ``batches`` batches of ``batch``
    records (micro-batched as it does, with Opacus' per-example gradients), then the
    held-out records' NLL under the base model: ``whole`` projects every position onto the
    vocabulary, else only the target positions (core/evaluate/perplexity.py)."""
    import torch

    from persona.core.evaluate.perplexity import (
        EVAL_TOKENS,
        length_batches,
        pad_batch,
        target_nll_torch,
    )
    from persona.core.train.config import LoRAConfig, TrainConfig
    from persona.core.train.dp_torch import MICRO_BATCH, MICRO_TOKENS, _Trainer
    from persona.core.train.lora import merged_model
    from persona.core.train.tokens import encode_examples, pad_id

    data = the_split(spec)
    n, whole = spec["batch"] * spec["batches"], spec["whole"]
    config = TrainConfig(noise_multiplier=0.0, sample_rate=1.0, steps=1,
                         max_seq_len=spec["max_len"],
                         lora=LoRAConfig(layers=spec.get("layers"), rank=spec.get("rank", 8),
                                         alpha=2.0 * spec.get("rank", 8)))
    trainer = _Trainer(model_folder(spec.get("model")), data.train[:n], config, None, None)
    t0, train_nll = time.perf_counter(), 0.0
    for i in range(0, len(trainer.encoded), spec["batch"]):
        batch = trainer.encoded[i:i + spec["batch"]]
        for micro in length_batches(batch, MICRO_BATCH, max_tokens=MICRO_TOKENS):
            nll, mask = target_nll_torch(trainer.gsm, *pad_batch(micro, trainer.pad_id),
                                         whole_logits=whole)
            (nll.sum(1) / mask.sum(1)).sum().backward()
            train_nll += float(nll.sum())
        trainer.optimizer.zero_grad(set_to_none=True)
    train_seconds = time.perf_counter() - t0
    del trainer
    model, tokenizer = merged_model(model_folder(spec.get("model")), None)
    encoded = encode_examples(tokenizer, data.heldout, spec["max_len"])
    t0, eval_nll, tokens = time.perf_counter(), 0.0, 0
    with torch.inference_mode():
        for batch in length_batches(encoded, 8, max_tokens=EVAL_TOKENS):
            nll, mask = target_nll_torch(model, *pad_batch(batch, pad_id(tokenizer)),
                                         whole_logits=whole)
            eval_nll += float(nll.sum(dtype=torch.float64))
            tokens += int(mask.sum())
    return {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - t0,
            "train_nll": train_nll, "eval_nll": eval_nll / tokens, "eval_tokens": tokens}


def nightly(spec: dict) -> dict:
    """Fill a fresh home with ~``tokens`` tokens of new memories, then run the nightly job
    (with the catalog language model ``spec["model"]``, default: the settings' default)."""
    from persona.core.memory.embed import Embedder
    from persona.core.memory.schema import Memory
    from persona.core.memory.store import MemoryStore
    from persona.core.paths import Home
    from persona.core.train.runner import TrainOptions, run_training

    # The fresh home finds the model already converted: conversions live in the per-user
    # cache keyed by the GGUF's sha256, shared by every home (core/models/cache.py).
    home = Home.resolve(Path(tempfile.mkdtemp(prefix="persona-bench-nightly-")))
    settings = settings_for(spec.get("model"))
    tokenizer = _tokenizer(spec.get("model"))
    texts, total = [], 0
    for text in train_data.head_speeches(seed=spec.get("seed", 0),
                                         corpus=spec.get("corpus", "shakespeare")):
        texts.append(text)
        total += len(tokenizer.encode(text, add_special_tokens=False)) + 1  # + end of text
        if total >= spec["tokens"]:
            break
    t0 = time.perf_counter()
    store = MemoryStore(home.memory_dir, Embedder.from_settings(settings), settings=settings)
    store.add([Memory(text=t, source="import") for t in texts])
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    options = TrainOptions.from_settings(settings, backend=spec.get("backend", "torch"),
                                         **spec.get("options", {}))  # the product's defaults
    outcome = run_training(home, settings, options)
    seconds = time.perf_counter() - t0
    ev = outcome.evaluation
    return {"memories": len(texts), "tokens": total, "ingest_seconds": ingest,
            "seconds": seconds, "train_seconds": outcome.result.seconds,
            "trained_tokens": outcome.result.tokens, "steps": outcome.plan.steps,
            "records": len(outcome.plan.eligible_ids), "promoted": outcome.promoted,
            "summary": outcome.summary_line(),
            "perplexity": None if ev is None else [ev.base_perplexity,
                                                   ev.candidate_perplexity]}


def night(spec: dict) -> dict:
    """One night of the product's schedule on the home ``spec["home"]``, which the first night
    fills with the split's training records: ``run_training`` with the product's defaults
    (ε 2 a run, the ledger's lifetime budget), as ``persona retrain`` runs it."""
    from persona.core.memory.embed import Embedder
    from persona.core.memory.schema import Memory
    from persona.core.memory.store import MemoryStore
    from persona.core.paths import Home
    from persona.core.train.adapter_store import AdapterStore
    from persona.core.train.runner import TrainOptions, run_training
    from persona.privacy.ledger import Ledger
    from persona.privacy.report import build_summary

    home = Home.resolve(Path(spec["home"]))
    settings = settings_for(spec.get("model"))
    store = MemoryStore(home.memory_dir, Embedder.from_settings(settings), settings=settings)
    if store.count() == 0:
        store.add([Memory(text=ex.target, source="import") for ex in the_split(spec).train])
    t0 = time.perf_counter()
    outcome = run_training(home, settings, TrainOptions.from_settings(settings,
                                                                      backend="torch"))
    summary = build_summary(Ledger(home.ledger_file, budget=settings.privacy_budget))
    current = AdapterStore(home).current_dir()
    ev = outcome.evaluation
    diff = ev.difference if ev is not None else None
    gate = None if ev is None else {
        "reference": ev.reference_perplexity, "candidate": ev.candidate_perplexity,
        "difference": None if diff is None else diff.nll,
        "standard_error": None if diff is None else diff.standard_error}
    return {"seconds": time.perf_counter() - t0, "trained": outcome.result is not None,
            "gate": gate,
            "records": len(outcome.plan.eligible_ids), "steps": outcome.plan.steps,
            "sigma": outcome.plan.noise_multiplier, "run_epsilon": outcome.plan.run_epsilon,
            "promoted": outcome.promoted, "reason": outcome.reason,
            "optimizer_continued": bool(outcome.result and outcome.result.optimizer_continued),
            "max_record_epsilon": summary["max_record_epsilon"],
            "runs": len(summary["runs"]), "adapter": str(current) if current else None}


def _tokenizer(model: str | None = None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_folder(model)))


JOBS = {"train": train, "losses": losses, "norms": norms, "nightly": nightly, "night": night,
        "head": head}


def main() -> None:
    spec = json.loads(sys.argv[1])
    from persona.core.llm.mlx_blas import use_system_blas

    use_system_blas()  # before anything loads MLX
    t0 = time.perf_counter()
    out = JOBS[spec["job"]](spec)
    # CPU seconds (every thread): unlike wall time, barely changed by other work on the machine
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.update(wall=time.perf_counter() - t0, rss_mb=peak_rss_mb(),
               cpu_seconds=usage.ru_utime + usage.ru_stime)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
