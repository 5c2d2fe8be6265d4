"""DP-SGD LoRA training on torch with Opacus, and held-out evaluation.

One step, as the privacy accounting assumes (``privacy.accountant``): every example joins
the batch independently with probability q (Poisson; the batch may be empty), each one's
gradient of its own loss (mean NLL over its target tokens) is computed by Opacus'
``GradSampleModule`` hooks on the LoRA ``nn.Linear`` layers, clipped to L2 norm C, summed,
Gaussian noise N(0, (σC)²) is added per coordinate, and the sum is divided by the EXPECTED
batch size q·n (``DPOptimizer``), then AdamW steps. σ = 0 is the non-private run, on the same
code path. The batch sampling and the noise come from ChaCha20 keyed from os.urandom
(``persona.core.train.csprng``), not from
``config.seed``: the guarantee rests on both being secret.

The loop itself (stopping on ``should_stop``, periodic checkpoints, resuming, accounting) is
``persona.core.train.loop.TrainLoop``'s; this module gives it torch's part.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from persona.core.errors import TextError
from persona.core.evaluate.perplexity import mean_nll_torch, pad_batch, target_nll_torch
from persona.core.train import optimizer_state
from persona.core.train.checkpoint import Checkpoint
from persona.core.train.config import (
    ProgressCallback,
    StopCheck,
    TrainConfig,
    TrainResult,
    train_threads,
)
from persona.core.train.csprng import gaussian, poisson_sample, restore, secure_generator, state_of
from persona.core.train.dataset import TrainingExample
from persona.core.train.loop import TrainLoop
from persona.core.train.lora import (
    adapter_digest,
    lora_description,
    lora_model,
    merged_model,
    save_adapter,
    trainable_parameters,
)
from persona.core.train.tokens import Encoded, encode_examples, pad_id

# A Poisson batch goes through in micro-batches of similar length: at most MICRO_BATCH
# examples and MICRO_TOKENS padded positions each. Padding costs as much as real tokens,
# and the logits (positions × 49k vocabulary) bound memory. Measured on tinyshakespeare
# speeches (10-256 tokens), 2 threads, LoRA on 8 blocks: 8 examples a pass and no budget
# gave 66 tokens/s at 3.0 GB peak; this budget 105 tokens/s at 1.5 GB (1024: 108, 2.0 GB).
MICRO_BATCH = 32
MICRO_TOKENS = 512
# AdamW: its step does not scale with the clipped, noised gradient, so one learning rate
# serves every C and σ. Measured on 256 tinyshakespeare lines at ε = 8 (8 steps, q = 1/8):
# AdamW at lr 2e-2 and SGD at lr 1.0 both cut held-out NLL by 0.78 nats; SGD at 0.5 by 0.56
# with noise and only 0.45 without, where AdamW at 1e-2 cut 0.76.
OPTIMIZER = "adamw"  # or "sgd"
ADAM_EPS = 1e-8


def train_torch(model_folder: Path, examples: Sequence[TrainingExample], config: TrainConfig,
                *, out_dir: Path, init_adapter: Path | None = None,
                checkpoint_dir: Path | None = None, on_progress: ProgressCallback | None = None,
                should_stop: StopCheck | None = None) -> TrainResult:
    """Train a LoRA adapter with DP-SGD and save it (peft format) into ``out_dir``.

    Runs exactly ``config.steps`` steps, resuming from a checkpoint in ``checkpoint_dir`` if
    one of this same run is there. When ``should_stop()`` turns true (checked between
    steps) a checkpoint is written and the result says ``stopped``; nothing is written to
    ``out_dir`` then. A finished run deletes its checkpoints.
    """
    if not examples:
        raise TextError("There are no training examples; add memories in the person's own "
                        "words (or wait for new ones) before training.")
    with _threads(config.threads or train_threads()), warnings.catch_warnings():
        # Opacus hooks the LoRA layers, whose inputs need no gradient: torch warns each step.
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        return _Trainer(model_folder, examples, config, init_adapter, checkpoint_dir).run(
            out_dir=Path(out_dir), on_progress=on_progress, should_stop=should_stop)


def heldout_loss_torch(model_folder: Path, adapter: Path | None,
                       examples: Sequence[TrainingExample], *, max_seq_len: int = 256,
                       batch_size: int = 8, threads: int | None = None) -> tuple[float, int]:
    """(mean NLL per target token, target tokens) of the base model, plus the peft adapter
    in ``adapter`` if given, on ``examples`` (tokenized exactly as for training)."""
    with _threads(threads or train_threads()):
        return _heldout_loss(model_folder, adapter, examples, max_seq_len, batch_size)


def _heldout_loss(model_folder, adapter, examples, max_seq_len, batch_size):
    model, tokenizer = merged_model(model_folder, adapter)
    encoded = encode_examples(tokenizer, examples, max_seq_len)
    if not encoded:
        raise TextError(f"None of the {len(examples)} held-out examples has a token to "
                        "predict; give held-out text with words in it.")
    loss = mean_nll_torch(model, encoded, pad_id=pad_id(tokenizer), batch_size=batch_size)
    return loss.nll, loss.tokens


class _Trainer(TrainLoop):
    """One run on torch: the model under Opacus' hooks, the DP optimiser and its RNGs."""

    def __init__(self, model_folder: Path, examples: Sequence[TrainingExample],
                 config: TrainConfig, init_adapter: Path | None, checkpoint_dir: Path | None):
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        self.model, tokenizer = lora_model(model_folder, config.lora,
                                           init_adapter=init_adapter, seed=config.seed)
        super().__init__(config, checkpoint_dir, tokenizer, examples, micro_batch=MICRO_BATCH,
                         micro_tokens=MICRO_TOKENS,
                         identity={"backend": "torch", "rng": "chacha20",
                                   "lora": lora_description(config.lora),
                                   "optimizer": OPTIMIZER, "model": Path(model_folder).name,
                                   "init_adapter": adapter_digest(init_adapter)})
        self.params = trainable_parameters(self.model)
        # Hooks on the LoRA nn.Linear layers; "sum": each example's grad_sample is the
        # gradient of its own loss. The optimiser's "mean" divides by q·n, not the batch.
        self.gsm = GradSampleModule(self.model, batch_first=True, loss_reduction="sum",
                                    strict=True)
        self.base_optimizer = _optimizer([p for _, p in self.params], config.learning_rate)
        self.noise_rng = secure_generator()
        self.sample_rng = secure_generator()
        self.optimizer = _csprng_optimizer(DPOptimizer)(
            self.base_optimizer, noise_multiplier=config.noise_multiplier,
            max_grad_norm=config.clip_norm,
            expected_batch_size=config.sample_rate * len(self.encoded), loss_reduction="mean")
        self.optimizer.noise_rng = self.noise_rng
        self.continue_optimizer(init_adapter)

    def _draw(self, n: int, q: float) -> list[int]:
        return poisson_sample(self.sample_rng, n, sample_rate=q).tolist()

    def _micro_step(self, micro: list[Encoded]) -> list[float]:
        nll, mask = target_nll_torch(self.gsm, *pad_batch(micro, self.pad_id))
        per_example = nll.sum(1) / mask.sum(1)  # each example's own mean NLL
        per_example.sum().backward()  # Opacus keeps each example's gradient: grad_sample
        return per_example.tolist()

    def _update(self, *, empty: bool) -> None:
        for _, p in self.params:
            if empty:  # an empty Poisson batch still takes a step: noise only
                p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype)
            elif isinstance(p.grad_sample, list):
                # Several micro-batches are one Poisson batch: as a list, DPOptimizer would
                # take them for accumulated batches and divide by q·n once per micro-batch.
                p.grad_sample = torch.cat(p.grad_sample)
        self.optimizer.step()  # clips, sums, adds noise, divides by q·n; AdamW steps
        self.optimizer.zero_grad(set_to_none=True)

    def _save_adapter(self, out_dir: Path, weights: Mapping[str, np.ndarray] | None) -> None:
        if weights is None:
            save_adapter(self.model, out_dir)
            return
        last = self._weights()  # the run goes on (its state) from the last iterate
        self._set_weights(weights)
        try:
            save_adapter(self.model, out_dir)
        finally:
            self._set_weights(last)

    def _weights(self) -> dict[str, np.ndarray]:
        return {name: p.detach().cpu().numpy().astype(np.float32, copy=True)
                for name, p in self.params}

    def _set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, p in self.params:
                p.copy_(torch.from_numpy(np.asarray(weights[name])).to(p.dtype))

    def _optimizer_description(self) -> dict:
        return optimizer_state.describe("torch", OPTIMIZER,
                                        {name: tuple(p.shape) for name, p in self.params})

    def _write_optimizer(self, folder: Path) -> None:
        torch.save(self.base_optimizer.state_dict(), folder / "optimizer.pt")

    def _read_optimizer(self, folder: Path) -> None:
        saved = torch.load(folder / "optimizer.pt", weights_only=True)
        own = self.base_optimizer.state_dict()  # this run's learning rate and betas stay
        own["state"] = saved["state"]
        self.base_optimizer.load_state_dict(own)

    def _write_files(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({name: p.detach().contiguous() for name, p in self.params},
                  str(folder / "adapter.safetensors"))
        self._write_optimizer(folder)
        (folder / "rng.json").write_text(json.dumps(
            {"sample": state_of(self.sample_rng), "noise": state_of(self.noise_rng)}))

    def _restore(self, ckpt: Checkpoint) -> None:
        from safetensors.torch import load_file

        weights = load_file(str(ckpt.file("adapter.safetensors")))
        with torch.no_grad():
            for name, p in self.params:
                p.copy_(weights[name])
        self._read_optimizer(ckpt.file("optimizer.pt").parent)
        rng = json.loads(ckpt.file("rng.json").read_text())
        restore(self.sample_rng, rng["sample"])
        restore(self.noise_rng, rng["noise"])


def _optimizer(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if OPTIMIZER == "sgd":
        return torch.optim.SGD(params, lr=lr)
    # No weight decay: it would pull the adapter towards zero on every (noisy) step.
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, eps=ADAM_EPS)


@contextmanager
def _threads(n: int) -> Iterator[None]:
    # torch's thread count is process-wide: put back what the caller had.
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _csprng_optimizer(base: type) -> type:
    """Opacus' DPOptimizer with its noise drawn from ChaCha20 (core/train/csprng.py).

    Opacus' own ``secure_mode`` needs torchcsprng, which is not built for current torch;
    everything else (clipping, summing, scaling by q·n) stays Opacus'.
    """
    from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed

    class CsprngDPOptimizer(base):
        noise_rng = None  # set by the trainer: a csprng.secure_generator()

        def add_noise(self) -> None:
            std = self.noise_multiplier * self.max_grad_norm
            for p in self.params:
                _check_processed_flag(p.summed_grad)
                noise = torch.from_numpy(gaussian(self.noise_rng, tuple(p.summed_grad.shape),
                                                  std=std))
                p.grad = (p.summed_grad + noise.to(p.summed_grad.dtype)).view_as(p)
                _mark_as_processed(p.summed_grad)

    return CsprngDPOptimizer
