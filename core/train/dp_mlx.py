"""DP-SGD LoRA training on MLX (the DP step is our own: ``dp_step_mlx``), and evaluation.

One step, as the privacy accounting assumes (``privacy.accountant``): every example joins
the batch independently with probability q (Poisson; the batch may be empty); each one's
gradient of its own loss (mean NLL over its target tokens) is computed exactly
(``nll_mlx.example_grads``: one example at a time on a CPU, micro-batches on a GPU); they
are clipped to L2 norm C, summed, Gaussian noise N(0, (σC)²) is added, the sum is divided
by the EXPECTED batch size q·n, and Adam steps. σ = 0 is the non-private run, on the same
code path. As on torch, the batch sampling and the noise come from ChaCha20 keyed from the
OS's entropy (``persona.core.train.csprng``),
not from ``config.seed``: the guarantee rests on both being secret (the seed only fixes the
LoRA initialisation). Their states go into checkpoints, so a resumed run continues the same
random streams.

Both trainers tokenize with ``persona.core.train.tokens.encode_examples``, so they train and
evaluate on identical token streams, and run the same loop (``persona.core.train.loop.TrainLoop``:
stopping, checkpoints, resuming, accounting); this module gives it MLX's part.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from persona.core.errors import TextError
from persona.core.llm.mlx_blas import use_system_blas
from persona.core.train import optimizer_state
from persona.core.train.checkpoint import Checkpoint
from persona.core.train.config import ProgressCallback, StopCheck, TrainConfig, TrainResult
from persona.core.train.csprng import KEY_BITS, poisson_sample, restore, secure_generator, state_of
from persona.core.train.dataset import TrainingExample
from persona.core.train.loop import TrainLoop
from persona.core.train.lora_mlx import (
    adapter_digest,
    apply_lora,
    continue_lora,
    load_base,
    lora_parameters,
    save_adapter,
)
from persona.core.train.nll_mlx import example_grads, mean_nll, micro_batch_size
from persona.core.train.tokens import Encoded, encode_examples, pad_id

ADAM_EPS = 1e-8


def train_mlx(model_folder: Path, examples: Sequence[TrainingExample], config: TrainConfig,
              *, out_dir: Path, init_adapter: Path | None = None,
              checkpoint_dir: Path | None = None, on_progress: ProgressCallback | None = None,
              should_stop: StopCheck | None = None) -> TrainResult:
    """Train a LoRA adapter with DP-SGD on MLX and save it (mlx-lm format) into ``out_dir``.

    The arguments, stops, checkpoints and resuming are those of ``dp_torch.train_torch``
    (both run ``persona.core.train.loop.TrainLoop``).
    """
    use_system_blas()  # before MLX loads: its Linux wheel's own BLAS is ~13x slower
    with tempfile.TemporaryDirectory(prefix="persona-mlx-") as scratch:
        trainer = _Trainer(model_folder, examples, config, init_adapter, checkpoint_dir,
                           Path(scratch))
        return trainer.run(out_dir=Path(out_dir), on_progress=on_progress,
                           should_stop=should_stop)


def eval_model_mlx(model_folder: Path, adapter: Path | None):
    """(model, tokenizer) of the base model plus ``adapter`` if given, ready to score."""
    use_system_blas()
    model, tokenizer = load_base(model_folder)
    if adapter is not None:
        with tempfile.TemporaryDirectory(prefix="persona-mlx-") as scratch:
            continue_lora(model, Path(adapter), Path(scratch))
    model.eval()
    return model, tokenizer


def heldout_loss_mlx(model_folder: Path, adapter: Path | None,
                     examples: Sequence[TrainingExample], *, max_seq_len: int = 256,
                     batch_size: int = 8) -> tuple[float, int]:
    """(mean NLL per target token, target tokens) of the base model, plus the adapter in
    ``adapter`` if given (mlx-lm, or peft converted), on ``examples`` tokenized exactly as
    for training."""
    model, tokenizer = eval_model_mlx(model_folder, adapter)
    encoded = encode_examples(tokenizer, examples, max_seq_len)
    if not encoded:
        raise TextError(f"None of the {len(examples)} held-out examples has a token to "
                        "predict; give held-out text with words in it.")
    return mean_nll(model, encoded, pad_id=pad_id(tokenizer), batch_size=batch_size)


class _Trainer(TrainLoop):
    """One run on MLX: the model with its LoRA layers, Adam, and the RNGs of the draws and
    the noise."""

    def __init__(self, model_folder: Path, examples: Sequence[TrainingExample],
                 config: TrainConfig, init_adapter: Path | None, checkpoint_dir: Path | None,
                 scratch: Path):
        import mlx.optimizers as optim

        self.model, tokenizer = load_base(model_folder)
        if init_adapter is not None:
            self.spec = continue_lora(self.model, Path(init_adapter), scratch)
        else:
            self.spec = apply_lora(self.model, config.lora, seed=config.seed)
        self.model.train()
        self.params = lora_parameters(self.model)
        super().__init__(config, checkpoint_dir, tokenizer, examples,
                         micro_batch=micro_batch_size(),
                         identity={"backend": "mlx", "lora": self.spec.to_config(),
                                   "optimizer": "adam", "model": Path(model_folder).name,
                                   "seed": config.seed, "rng": "chacha20",
                                   "init_adapter": adapter_digest(init_adapter)})
        # No weight decay: it would pull the adapter towards zero on every (noisy) step.
        self.optimizer = optim.Adam(learning_rate=config.learning_rate, eps=ADAM_EPS,
                                    bias_correction=True)
        self.optimizer.init(self.params)
        self.continue_optimizer(init_adapter)
        # ChaCha20 keyed from the OS for both (core/train/csprng.py), not PCG64 or MLX's own.
        self.sample_rng = secure_generator(_entropy(KEY_BITS))
        self.noise_rng = secure_generator(_entropy(KEY_BITS))
        self.summed = self._zeros()  # this step's sum of clipped per-example gradients

    def _zeros(self) -> dict:
        import mlx.core as mx

        return {name: mx.zeros_like(p) for name, p in self.params.items()}

    def _draw(self, n: int, q: float) -> np.ndarray:
        return poisson_sample(self.sample_rng, n, sample_rate=q)

    def _micro_step(self, micro: list[Encoded]) -> list[float]:
        import mlx.core as mx

        from persona.core.train.dp_step_mlx import clip_and_sum

        grads, per_example = example_grads(self.model, self.params, micro, pad_id=self.pad_id)
        part, _ = clip_and_sum(grads, self.config.clip_norm)
        self.summed = {name: self.summed[name] + part[name] for name in self.summed}
        mx.eval(self.summed, per_example)  # bounds memory: one micro-batch's graph at a time
        return per_example.tolist()

    def _update(self, *, empty: bool) -> None:
        import mlx.core as mx
        from mlx.utils import tree_unflatten

        from persona.core.train.dp_step_mlx import add_noise

        config = self.config
        gradient = add_noise(self.summed, clip_norm=config.clip_norm,
                             noise_multiplier=config.noise_multiplier,
                             expected_batch_size=config.sample_rate * len(self.encoded),
                             rng=self.noise_rng)
        self.params = self.optimizer.apply_gradients(gradient, self.params)
        mx.eval(self.params, self.optimizer.state)
        self.model.update(tree_unflatten(list(self.params.items())))
        self.summed = self._zeros()

    def _save_adapter(self, out_dir: Path, weights: Mapping[str, np.ndarray] | None) -> None:
        import mlx.core as mx

        params = self.params if weights is None else {
            name: mx.array(weights[name]).astype(p.dtype) for name, p in self.params.items()}
        save_adapter(params, self.spec, out_dir)

    def _weights(self) -> dict[str, np.ndarray]:
        import mlx.core as mx

        return {name: np.array(p.astype(mx.float32), copy=True)
                for name, p in self.params.items()}

    def _set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        import mlx.core as mx
        from mlx.utils import tree_unflatten

        self.params = {name: mx.array(weights[name]).astype(p.dtype)
                       for name, p in self.params.items()}
        mx.eval(self.params)
        self.model.update(tree_unflatten(list(self.params.items())))

    def _optimizer_description(self) -> dict:
        return optimizer_state.describe("mlx", "adam", {name: tuple(value.shape)
                                                        for name, value in self.params.items()})

    def _write_optimizer(self, folder: Path) -> None:
        import mlx.core as mx

        mx.save_safetensors(str(folder / "optimizer.safetensors"),
                            _flat_state(self.optimizer.state))

    def _read_optimizer(self, folder: Path) -> None:
        import mlx.core as mx

        state = _nested_state(mx.load(str(folder / "optimizer.safetensors")))
        state["learning_rate"] = self.optimizer.state["learning_rate"]  # this run's stays
        self.optimizer.state = state

    def _write_files(self, folder: Path) -> None:
        import mlx.core as mx

        mx.save_safetensors(str(folder / "adapter.safetensors"), self.params)
        self._write_optimizer(folder)

    def _extra_state(self) -> dict:
        return {"sample_rng": state_of(self.sample_rng), "noise_rng": state_of(self.noise_rng)}

    def _restore(self, ckpt: Checkpoint) -> None:
        import mlx.core as mx
        from mlx.utils import tree_unflatten

        weights = mx.load(str(ckpt.file("adapter.safetensors")))
        self.params = {name: weights[name] for name in self.params}
        self.model.update(tree_unflatten(list(self.params.items())))
        self._read_optimizer(ckpt.file("optimizer.safetensors").parent)
        restore(self.sample_rng, ckpt.state["sample_rng"])
        restore(self.noise_rng, ckpt.state["noise_rng"])


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
