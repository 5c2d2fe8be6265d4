"""The training loop both DP-SGD trainers share (``dp_torch``, ``dp_mlx``).

``TrainLoop`` runs the steps, reports progress, stops when asked, writes and resumes
checkpoints (``persona.core.train.checkpoint``) and accounts the privacy spent
(``privacy.accountant``). A backend subclass supplies only what depends on its framework:
the Poisson draw from its own secret RNG, the clipped per-example gradients of one
micro-batch, the noised update, the adapter it saves, its optimiser's state and the files (and
RNG state) its checkpoints hold. A finished run leaves the optimiser's state beside its
adapter, and a run that continues that adapter goes on with it
(``persona.core.train.optimizer_state``). A private run publishes the average of its iterates,
not the last one (``persona.core.train.averaging``); the last raw iterate goes on beside the
optimiser's state.

One step, as the accounting assumes: every example joins the batch independently with
probability q (Poisson; the batch may be empty, and an empty batch still takes a step, of
noise only); the batch goes through in micro-batches of similar length, then the backend
adds the noise to the sum of clipped gradients and applies the update.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from persona.core.errors import TextError
from persona.core.evaluate.perplexity import length_batches
from persona.core.train import averaging, optimizer_state
from persona.core.train.checkpoint import (
    Checkpoint,
    delete_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from persona.core.train.config import (
    ProgressCallback,
    StopCheck,
    TrainConfig,
    TrainProgress,
    TrainResult,
)
from persona.core.train.dataset import TrainingExample
from persona.core.train.tokens import Encoded, data_digest, encode_examples, pad_id
from persona.privacy.accountant import Accountant
from persona.privacy.rdp import default_delta

log = logging.getLogger(__name__)


class TrainLoop(ABC):
    """The state of one run: the examples as tokens, the accountant and what was done so far
    (steps, losses, tokens, seconds). Subclasses add the model, optimiser and RNGs."""

    def __init__(self, config: TrainConfig, checkpoint_dir: Path | None, tokenizer,
                 examples: Sequence[TrainingExample], *, micro_batch: int,
                 micro_tokens: int | None = None, identity: Mapping):
        """``identity``: the backend's part of what identifies the run in its checkpoints
        (backend, model, LoRA layout, optimiser, starting adapter...); the plan and the data
        are added here."""
        self.config = config
        self.checkpoint_dir = checkpoint_dir
        self.micro_batch = micro_batch  # examples per forward/backward pass, at most
        self.micro_tokens = micro_tokens  # padded positions per pass, at most (None: any)
        self.pad_id = pad_id(tokenizer)
        self.encoded = encode_examples(tokenizer, examples, config.max_seq_len)
        if not self.encoded:
            raise TextError(f"None of the {len(examples)} training examples has a token to "
                            "learn (all targets are empty); add memories with words in them.")
        n = len(self.encoded)
        self.delta = config.delta if config.delta is not None else default_delta(n)
        self.accountant = Accountant()
        self.losses: list[float] = []
        self.tokens = 0
        self.seconds = 0.0
        self.step = 0
        self.resumed_from = 0
        self.optimizer_continued = False
        # Private runs average their iterates: the noise is what the average cancels.
        self.averaging = config.private and config.average_iterates
        self.average: averaging.IterateAverage | None = None  # set when the run starts
        self.identity = {
            "noise_multiplier": config.noise_multiplier, "sample_rate": config.sample_rate,
            "steps": config.steps, "clip_norm": config.clip_norm,
            "learning_rate": config.learning_rate, "max_seq_len": config.max_seq_len,
            "examples": n, "data": data_digest(self.encoded),
            "average": averaging.describe() if self.averaging else None, **identity}

    # -- the backend's part -------------------------------------------------------------------

    @abstractmethod
    def _draw(self, n: int, q: float) -> Sequence[int]:
        """The indices of the examples (of ``n``) that join this step's batch, each with
        probability ``q``, drawn from the backend's secret RNG."""

    @abstractmethod
    def _micro_step(self, micro: list[Encoded]) -> list[float]:
        """Take the per-example gradients of the examples in ``micro`` into this step (each
        to be clipped to C and summed); return each one's loss (mean NLL over its target
        tokens)."""

    @abstractmethod
    def _update(self, *, empty: bool) -> None:
        """Add the noise to this step's sum of clipped gradients (``empty``: no example
        joined, the sum is zero), divide it by q·n and apply it; start the next sum at zero."""

    @abstractmethod
    def _save_adapter(self, out_dir: Path, weights: Mapping[str, np.ndarray] | None) -> None:
        """Save the adapter (the backend's own format) into ``out_dir``: with ``weights``
        (the average of the iterates) in place of the trainable ones if given."""

    @abstractmethod
    def _weights(self) -> dict[str, np.ndarray]:
        """A float32 copy of the trainable weights (the LoRA matrices), by name."""

    @abstractmethod
    def _set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Set the trainable weights to ``weights`` (names as ``_weights`` gives them)."""

    @abstractmethod
    def _optimizer_description(self) -> dict:
        """What the optimiser's state fits (``optimizer_state.describe``)."""

    @abstractmethod
    def _write_optimizer(self, folder: Path) -> None:
        """Write the optimiser's state (its moments and step counter) into ``folder``."""

    @abstractmethod
    def _read_optimizer(self, folder: Path) -> None:
        """Load the state ``_write_optimizer`` wrote; the run's own hyperparameters (learning
        rate, betas) stay."""

    @abstractmethod
    def _write_files(self, folder: Path) -> None:
        """Write the backend's checkpoint files (adapter, optimiser...) into ``folder``."""

    @abstractmethod
    def _restore(self, ckpt: Checkpoint) -> None:
        """Load what ``_write_files`` and ``_extra_state`` saved back from ``ckpt``."""

    def _extra_state(self) -> dict:
        """The backend's own JSON state for a checkpoint (e.g. its RNG states)."""
        return {}

    def continue_optimizer(self, adapter: Path | None) -> bool:
        """Go on with the optimiser's state saved beside ``adapter`` by the run that trained
        it, when it fits this run (the backend calls this once its optimiser exists). A
        checkpoint, if this run resumes one, still wins: it is restored later."""
        if not optimizer_state.fits(adapter, self._optimizer_description()):
            return False
        folder = Path(adapter)
        try:
            iterate, steps = averaging.read(folder / averaging.ITERATE_FILE)
            if set(iterate) != set(self._weights()):
                raise ValueError("its last iterate has other weights than the adapter")
            self._read_optimizer(folder)
        except Exception as exc:  # noqa: BLE001 - a damaged state costs only a fresh start
            log.warning("The optimiser state beside %s could not be read (%s); the optimiser "
                        "starts afresh.", adapter, exc)
            return False
        if self.averaging:
            # The adapter is the average so far; training goes on from the last raw iterate.
            self.average = averaging.IterateAverage(self._weights(), steps)
            self._set_weights(iterate)
        self.optimizer_continued = True
        return True

    # -- the loop ---------------------------------------------------------------------------

    def run(self, *, out_dir: Path, on_progress: ProgressCallback | None,
            should_stop: StopCheck | None) -> TrainResult:
        """Run exactly ``config.steps`` steps, resuming from a checkpoint in
        ``checkpoint_dir`` if one of this same run is there, then save the adapter into
        ``out_dir`` and delete the checkpoints. When ``should_stop()`` turns true (checked
        between steps) a checkpoint is written (only a warning without a checkpoint folder)
        and the result says ``stopped``; nothing is written to ``out_dir`` then."""
        self._resume()
        if self.averaging and self.average is None:
            self.average = averaging.IterateAverage(self._weights())
        config = self.config
        started = time.monotonic() - self.seconds
        saved = time.monotonic()  # when the last checkpoint was written (or the run began)
        while self.step < config.steps:
            if should_stop is not None and should_stop():
                self.seconds = time.monotonic() - started
                if self.checkpoint_dir is None:
                    log.warning("Training stopped at step %d with no checkpoint folder: the "
                                "run cannot be resumed.", self.step)
                else:
                    self._checkpoint()
                return self._result(out_dir, stopped=True)
            loss, tokens = self._one_step()
            if self.average is not None:
                self.average.update(self._weights())
            self.step += 1
            self.losses.append(loss)
            self.tokens += tokens
            self.seconds = time.monotonic() - started
            if on_progress is not None:
                on_progress(TrainProgress(step=self.step, steps=config.steps, loss=loss,
                                          epsilon=self.epsilon(), tokens=self.tokens,
                                          seconds=self.seconds))
            if self.checkpoint_dir is not None and self.step < config.steps and (
                    (config.checkpoint_every > 0 and self.step % config.checkpoint_every == 0)
                    or (config.checkpoint_seconds is not None
                        and time.monotonic() - saved >= config.checkpoint_seconds)):
                self._checkpoint()
                saved = time.monotonic()
        self._save_adapter(out_dir, self.average.arrays if self.average else None)
        optimizer_state.save(out_dir, self._optimizer_description(), self._write_state)
        delete_checkpoints(self.checkpoint_dir)
        self.seconds = time.monotonic() - started
        return self._result(out_dir, stopped=False)

    def _write_state(self, folder: Path) -> None:
        """What a run that continues this adapter goes on with: the optimiser's state and the
        last raw iterate, with the count of iterates the average (the adapter) holds."""
        self._write_optimizer(folder)
        averaging.write(folder / averaging.ITERATE_FILE, self._weights(),
                        self.average.steps if self.average else 0)

    def _one_step(self) -> tuple[float, int]:
        """One DP-SGD step; (mean loss of the batch's examples or nan, target tokens)."""
        q = self.config.sample_rate
        batch = [self.encoded[i] for i in self._draw(len(self.encoded), q)]
        losses: list[float] = []
        tokens = 0
        for micro in length_batches(batch, self.micro_batch, max_tokens=self.micro_tokens):
            losses.extend(self._micro_step(micro))
            tokens += sum(e.target_tokens for e in micro)
        self._update(empty=not batch)
        self.accountant.step(noise_multiplier=self.config.noise_multiplier, sample_rate=q)
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
                           resumed_from=self.resumed_from,
                           optimizer_continued=self.optimizer_continued)

    # -- checkpoints --------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        state = {"losses": self.losses, "tokens": self.tokens, "seconds": self.seconds,
                 "accountant": self.accountant.state_dict(), **self._extra_state()}
        save_checkpoint(self.checkpoint_dir, step=self.step, run=self.identity, state=state,
                        write_files=self._write_checkpoint_files)

    def _write_checkpoint_files(self, folder: Path) -> None:
        self._write_files(folder)
        if self.average is not None:
            self.average.save(folder / averaging.AVERAGE_FILE)

    def _resume(self) -> None:
        ckpt = load_checkpoint(self.checkpoint_dir, run=self.identity)
        if ckpt is None:
            return
        self._restore(ckpt)
        if self.averaging:
            self.average = averaging.IterateAverage.load(ckpt.file(averaging.AVERAGE_FILE))
        self.accountant.load_state_dict(ckpt.state["accountant"])
        self.losses = [float(x) for x in ckpt.state["losses"]]
        self.tokens = int(ckpt.state["tokens"])
        self.seconds = float(ckpt.state["seconds"])
        self.step = self.resumed_from = ckpt.step
        log.info("Resuming training at step %d of %d from %s", ckpt.step, self.config.steps,
                 ckpt.path)
