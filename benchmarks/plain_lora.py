"""Ordinary (non-DP) LoRA fine-tuning on torch: the reference DP-SGD is measured against.

Same model, LoRA, optimiser, learning rate, Poisson batches and steps as ``train_torch``,
but one batched backward pass per micro-batch and no per-example gradients, clipping or
noise: what a trainer without DP would do. It exists for the benchmark only (the product
never trains without its ledger); ``persona train --epsilon inf`` is the other reference,
the DP code path with σ = 0.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from persona.core.evaluate.perplexity import length_batches, pad_batch, target_nll_torch
from persona.core.train.config import TrainConfig, TrainResult
from persona.core.train.dataset import TrainingExample
from persona.core.train.dp_torch import ADAM_EPS, MICRO_BATCH, MICRO_TOKENS
from persona.core.train.lora import lora_model, save_adapter, trainable_parameters
from persona.core.train.tokens import encode_examples, pad_id


def train_plain(model_folder: Path, examples: Sequence[TrainingExample], config: TrainConfig,
                *, out_dir: Path) -> TrainResult:
    model, tokenizer = lora_model(model_folder, config.lora, seed=config.seed)
    encoded = encode_examples(tokenizer, examples, config.max_seq_len)
    params = [p for _, p in trainable_parameters(model)]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0,
                                  eps=ADAM_EPS)
    rng = random.Random(config.seed)  # not secret: this reference makes no privacy claim
    expected = config.sample_rate * len(encoded)
    losses, tokens = [], 0
    started = time.monotonic()
    for _ in range(config.steps):
        batch = [e for e in encoded if rng.random() < config.sample_rate]
        step_losses = []
        for micro in length_batches(batch, MICRO_BATCH, max_tokens=MICRO_TOKENS):
            nll, mask = target_nll_torch(model, *pad_batch(micro, pad_id(tokenizer)))
            per_example = nll.sum(1) / mask.sum(1)
            (per_example.sum() / expected).backward()  # DP-SGD's scaling, without the clip
            step_losses.extend(per_example.tolist())
            tokens += int(mask.sum())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(sum(step_losses) / len(step_losses) if step_losses else math.nan)
    seconds = time.monotonic() - started
    save_adapter(model, out_dir)
    return TrainResult(adapter_dir=out_dir, steps_done=config.steps, steps=config.steps,
                       epsilon=math.inf, tokens=tokens, seconds=seconds, losses=losses)
