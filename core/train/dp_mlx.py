"""DP-SGD LoRA training on MLX (the DP step is our own: ``dp_step_mlx``), and evaluation.

One step, as the privacy accounting assumes (``privacy.accountant``): every example joins
the batch independently with probability q (Poisson; the batch may be empty); each one's
gradient of its own loss (mean NLL over its target tokens) is computed exactly
(``nll_mlx.example_grads``: one example at a time on a CPU, micro-batches on a GPU); they
are clipped to L2 norm C, summed, Gaussian noise N(0, (σC)²) is added, the sum is divided
by the EXPECTED batch size q·n, and Adam steps. σ = 0 is the non-private run, on the same
code path. As on torch, the batch sampling and the noise are seeded from the OS's entropy,
not from ``config.seed``: the guarantee rests on both being secret (the seed only fixes the
LoRA initialisation). Their states go into checkpoints, so a resumed run continues the same
random streams.

Both trainers tokenize with ``core.train.tokens.encode_examples``, so they train and
evaluate on identical token streams.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import TextError
from core.evaluate.perplexity import length_batches
from core.llm.mlx_blas import use_system_blas
from core.train.checkpoint import delete_checkpoints, load_checkpoint, save_checkpoint
from core.train.config import ProgressCallback, StopCheck, TrainConfig, TrainProgress, TrainResult
from core.train.dataset import TrainingExample
from core.train.lora_mlx import (
    adapter_digest,
    apply_lora,
    continue_lora,
    load_base,
    lora_parameters,
    save_adapter,
)
from core.train.nll_mlx import example_grads, mean_nll, micro_batch_size
from core.train.tokens import Encoded, encode_examples
from privacy.accountant import Accountant
from privacy.rdp import default_delta

log = logging.getLogger(__name__)

ADAM_EPS = 1e-8


def train_mlx(model_folder: Path, examples: Sequence[TrainingExample], config: TrainConfig,
              *, out_dir: Path, init_adapter: Path | None = None,
              checkpoint_dir: Path | None = None, on_progress: ProgressCallback | None = None,
              should_stop: StopCheck | None = None) -> TrainResult:
    """Train a LoRA adapter with DP-SGD on MLX and save it (mlx-lm format) into ``out_dir``.

    Runs exactly ``config.steps`` steps, resuming from a checkpoint in ``checkpoint_dir`` if
    one of this same run is there. When ``should_stop()`` turns true (checked between
    steps) a checkpoint is written and the result says ``stopped``; nothing is written to
    ``out_dir`` then. A finished run deletes its checkpoints.
    """
    use_system_blas()  # before MLX loads: its Linux wheel's own BLAS is ~13x slower
    with tempfile.TemporaryDirectory(prefix="persona-mlx-") as scratch:
        trainer = _Trainer(model_folder, examples, config, init_adapter, checkpoint_dir,
                           Path(scratch))
        return trainer.run(out_dir=Path(out_dir), on_progress=on_progress,
                           should_stop=should_stop)


def heldout_loss_mlx(model_folder: Path, adapter: Path | None,
                     examples: Sequence[TrainingExample], *, max_seq_len: int = 256,
                     batch_size: int = 8) -> tuple[float, int]:
    """(mean NLL per target token, target tokens) of the base model, plus the adapter in
    ``adapter`` if given (mlx-lm, or peft converted), on ``examples`` tokenized exactly as
    for training."""
    use_system_blas()
    model, tokenizer = load_base(model_folder)
    if adapter is not None:
        with tempfile.TemporaryDirectory(prefix="persona-mlx-") as scratch:
            continue_lora(model, Path(adapter), Path(scratch))
    model.eval()
    encoded = encode_examples(tokenizer, examples, max_seq_len)
    if not encoded:
        raise TextError(f"None of the {len(examples)} held-out examples has a token to "
                        "predict; give held-out text with words in it.")
    return mean_nll(model, encoded, pad_id=_pad_id(tokenizer), batch_size=batch_size)


class _Trainer:
    """The state of one run: model, optimiser, RNGs, accountant and what was done so far."""

    def __init__(self, model_folder: Path, examples: Sequence[TrainingExample],
                 config: TrainConfig, init_adapter: Path | None, checkpoint_dir: Path | None,
                 scratch: Path):
        import mlx.core as mx
        import mlx.optimizers as optim

        self.config = config
        self.checkpoint_dir = checkpoint_dir
        self.model, tokenizer = load_base(model_folder)
        if init_adapter is not None:
            self.spec = continue_lora(self.model, Path(init_adapter), scratch)
        else:
            self.spec = apply_lora(self.model, config.lora, seed=config.seed)
        self.model.train()
        self.params = lora_parameters(self.model)
        self.pad_id = _pad_id(tokenizer)
        self.encoded = encode_examples(tokenizer, examples, config.max_seq_len)
        if not self.encoded:
            raise TextError(f"None of the {len(examples)} training examples has a token to "
                            "learn (all targets are empty); add memories with words in them.")
        n = len(self.encoded)
        self.delta = config.delta if config.delta is not None else default_delta(n)
        # No weight decay: it would pull the adapter towards zero on every (noisy) step.
        self.optimizer = optim.Adam(learning_rate=config.learning_rate, eps=ADAM_EPS,
                                    bias_correction=True)
        self.optimizer.init(self.params)
        self.sample_rng = np.random.default_rng(_entropy(128))
        self.noise_key = mx.random.key(_entropy(63))
        self.micro_batch = micro_batch_size()
        self.accountant = Accountant()
        self.losses: list[float] = []
        self.tokens = 0
        self.seconds = 0.0
        self.step = 0
        self.resumed_from = 0
        self.identity = {
            "backend": "mlx", "noise_multiplier": config.noise_multiplier,
            "sample_rate": config.sample_rate, "steps": config.steps,
            "clip_norm": config.clip_norm, "learning_rate": config.learning_rate,
            "max_seq_len": config.max_seq_len, "lora": self.spec.to_config(),
            "optimizer": "adam", "model": Path(model_folder).name, "seed": config.seed,
            "init_adapter": adapter_digest(init_adapter), "examples": n,
            "data": _digest(self.encoded)}

    # -- the loop ---------------------------------------------------------------------------

    def run(self, *, out_dir: Path, on_progress: ProgressCallback | None,
            should_stop: StopCheck | None) -> TrainResult:
        self._resume()
        config = self.config
        started = time.monotonic() - self.seconds
        while self.step < config.steps:
            if should_stop is not None and should_stop():
                self.seconds = time.monotonic() - started
                self._checkpoint()
                return self._result(out_dir, stopped=True)
            loss, tokens = self._one_step()
            self.step += 1
            self.losses.append(loss)
            self.tokens += tokens
            self.seconds = time.monotonic() - started
            if on_progress is not None:
                on_progress(TrainProgress(step=self.step, steps=config.steps, loss=loss,
                                          epsilon=self.epsilon(), tokens=self.tokens,
                                          seconds=self.seconds))
            if (self.checkpoint_dir is not None and config.checkpoint_every > 0
                    and self.step % config.checkpoint_every == 0 and self.step < config.steps):
                self._checkpoint()
        save_adapter(self.params, self.spec, out_dir)
        delete_checkpoints(self.checkpoint_dir)
        self.seconds = time.monotonic() - started
        return self._result(out_dir, stopped=False)

    def _one_step(self) -> tuple[float, int]:
        """One DP-SGD step; (mean loss of the batch's examples or nan, target tokens)."""
        import mlx.core as mx
        from mlx.utils import tree_unflatten

        from core.train.dp_step_mlx import add_noise, clip_and_sum

        n, config = len(self.encoded), self.config
        chosen = np.flatnonzero(self.sample_rng.random(n) < config.sample_rate)
        batch = [self.encoded[i] for i in chosen]
        summed = {name: mx.zeros_like(p) for name, p in self.params.items()}
        losses: list[float] = []
        tokens = 0
        for micro in length_batches(batch, self.micro_batch):
            grads, per_example = example_grads(self.model, self.params, micro,
                                               pad_id=self.pad_id)
            part, _ = clip_and_sum(grads, config.clip_norm)
            summed = {name: summed[name] + part[name] for name in summed}
            mx.eval(summed, per_example)  # bounds memory: one micro-batch's graph at a time
            losses.extend(per_example.tolist())
            tokens += sum(e.target_tokens for e in micro)
        self.noise_key, key = mx.random.split(self.noise_key)
        gradient = add_noise(summed, clip_norm=config.clip_norm,
                             noise_multiplier=config.noise_multiplier,
                             expected_batch_size=config.sample_rate * n, key=key)
        self.params = self.optimizer.apply_gradients(gradient, self.params)
        mx.eval(self.params, self.optimizer.state, self.noise_key)
        self.model.update(tree_unflatten(list(self.params.items())))
        self.accountant.step(noise_multiplier=config.noise_multiplier,
                             sample_rate=config.sample_rate)
        return (sum(losses) / len(losses) if losses else math.nan), tokens

    def epsilon(self) -> float:
        """ε spent so far by a record in every step (inf for a non-private run)."""
        if not self.config.private:
            return math.inf
        return self.accountant.get_epsilon(self.delta)

    def _result(self, out_dir: Path, *, stopped: bool) -> TrainResult:
        return TrainResult(adapter_dir=out_dir, steps_done=self.step, steps=self.config.steps,
                           epsilon=self.epsilon(), tokens=self.tokens, seconds=self.seconds,
                           losses=list(self.losses), stopped=stopped,
                           resumed_from=self.resumed_from)

    # -- checkpoints --------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        if self.checkpoint_dir is None:
            log.warning("Training stopped at step %d with no checkpoint folder: the run "
                        "cannot be resumed.", self.step)
            return
        import mlx.core as mx

        def write(folder: Path) -> None:
            mx.save_safetensors(str(folder / "adapter.safetensors"), self.params)
            mx.save_safetensors(str(folder / "optimizer.safetensors"),
                                _flat_state(self.optimizer.state))

        state = {"losses": self.losses, "tokens": self.tokens, "seconds": self.seconds,
                 "accountant": self.accountant.state_dict(),
                 "sample_rng": self.sample_rng.bit_generator.state,
                 "noise_key": np.array(self.noise_key).tolist()}
        save_checkpoint(self.checkpoint_dir, step=self.step, run=self.identity, state=state,
                        write_files=write)

    def _resume(self) -> None:
        ckpt = load_checkpoint(self.checkpoint_dir, run=self.identity)
        if ckpt is None:
            return
        import mlx.core as mx
        from mlx.utils import tree_unflatten

        weights = mx.load(str(ckpt.file("adapter.safetensors")))
        self.params = {name: weights[name] for name in self.params}
        self.model.update(tree_unflatten(list(self.params.items())))
        self.optimizer.state = _nested_state(mx.load(str(ckpt.file("optimizer.safetensors"))))
        self.sample_rng.bit_generator.state = ckpt.state["sample_rng"]
        self.noise_key = mx.array(ckpt.state["noise_key"], dtype=mx.uint32)
        self.accountant.load_state_dict(ckpt.state["accountant"])
        self.losses = [float(x) for x in ckpt.state["losses"]]
        self.tokens = int(ckpt.state["tokens"])
        self.seconds = float(ckpt.state["seconds"])
        self.step = self.resumed_from = ckpt.step
        log.info("Resuming training at step %d of %d from %s", ckpt.step, self.config.steps,
                 ckpt.path)


def _entropy(bits: int) -> int:
    """A secret seed from the OS (tests replace it to compare runs)."""
    return secrets.randbits(bits)


_SEP = "|"  # joins a parameter name and its Adam moment ("m" or "v"); never in a name


def _flat_state(state: dict) -> dict:
    """Adam's state ({"step", "learning_rate", name: {"m", "v"}}) as flat arrays."""
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            out.update({f"{key}{_SEP}{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _nested_state(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        if _SEP in key:
            name, moment = key.rsplit(_SEP, 1)
            out.setdefault(name, {})[moment] = value
        else:
            out[key] = value
    return out


def _pad_id(tokenizer) -> int:
    # Padded positions are never targets and come after every real token: any id will do.
    for pad in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if pad is not None:
            return int(pad)
    return 0


def _digest(encoded: Sequence[Encoded]) -> str:
    """What identifies the training data: every example's record id and token ids."""
    h = hashlib.sha256()
    for e in encoded:
        h.update(json.dumps([e.record_id, e.target_start, e.ids]).encode())
    return h.hexdigest()
