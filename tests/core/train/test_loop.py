"""The shared training loop (``persona.core.train.loop.TrainLoop``) with a backend that learns nothing:
what it asks of a backend, its stops, checkpoints and resuming. No model, so it is fast; the
real backends run it in test_dp_torch.py and test_dp_mlx.py."""

from __future__ import annotations

import logging
import math
import random

import numpy as np
import pytest

from persona.core.train import averaging, optimizer_state
from persona.core.train.checkpoint import load_checkpoint
from persona.core.train.config import TrainConfig
from persona.core.train.dataset import TrainingExample
from persona.core.train.loop import TrainLoop
from persona.privacy.rdp import default_delta, run_epsilon


class Tokenizer:
    bos_token_id, eos_token_id, pad_token_id = 1, 2, None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [3 + ord(c) % 50 for c in text]


class Recorder(TrainLoop):
    """Records the micro-batch sizes and the updates the loop asks for; its one weight counts
    the updates (each adds 1), its extra state is a seeded RNG's draws so far."""

    def __init__(self, config: TrainConfig, checkpoint_dir, n: int = 5):
        examples = [TrainingExample(f"r{i}", "", "word " * (i + 1)) for i in range(n)]
        super().__init__(config, checkpoint_dir, Tokenizer(), examples, micro_batch=2,
                         identity={"backend": "recorder"})
        self.rng, self.draws = random.Random(0), 0
        self.micro: list[int] = []
        self.updates: list[bool] = []
        self.w = np.zeros(1, dtype=np.float32)

    def _draw(self, n: int, q: float) -> list[int]:
        self.draws += 1
        return [i for i in range(n) if self.rng.random() < q]

    def _micro_step(self, micro) -> list[float]:
        self.micro.append(len(micro))
        return [float(len(e.ids)) for e in micro]

    def _update(self, *, empty: bool) -> None:
        self.updates.append(empty)
        self.w = self.w + 1

    def _save_adapter(self, out_dir, weights) -> None:
        out_dir.mkdir()
        (out_dir / "updates").write_text(str(len(self.updates)))
        (out_dir / "weight").write_text(str(float((weights or self._weights())["w"][0])))

    def _weights(self) -> dict:
        return {"w": self.w.copy()}

    def _set_weights(self, weights) -> None:
        self.w = np.array(weights["w"], dtype=np.float32)

    def _write_files(self, folder) -> None:
        (folder / "updates").write_text(str(len(self.updates)))
        np.save(folder / "w.npy", self.w)

    def _optimizer_description(self) -> dict:
        return optimizer_state.describe("recorder", "count", {"updates": (1,)})

    def _write_optimizer(self, folder) -> None:
        (folder / "optimizer.pt").write_text(str(len(self.updates)))

    def _read_optimizer(self, folder) -> None:
        self.carried = int((folder / "optimizer.pt").read_text())

    def _extra_state(self) -> dict:
        return {"draws": self.draws}

    def _restore(self, ckpt) -> None:
        self.updates = [False] * int(ckpt.file("updates").read_text())
        self.w = np.load(ckpt.file("w.npy"))
        for _ in range(ckpt.state["draws"]):  # replays the same stream of draws
            self._draw(len(self.encoded), self.config.sample_rate)


def plan(**kw) -> TrainConfig:
    kw.setdefault("sample_rate", 1.0)
    return TrainConfig(noise_multiplier=kw.pop("sigma", 1.0), steps=kw.pop("steps", 4), **kw)


def test_every_step_goes_through_micro_batches_to_one_update(tmp_path):
    loop = Recorder(plan(sample_rate=1.0, steps=2), None)
    result = loop.run(out_dir=tmp_path / "out", on_progress=None, should_stop=None)
    assert loop.micro == [2, 2, 1] * 2 and loop.updates == [False, False]
    assert result.tokens == 2 * sum(e.target_tokens for e in loop.encoded)
    assert result.losses[0] == pytest.approx(sum(len(e.ids) for e in loop.encoded) / 5)
    assert result.epsilon == pytest.approx(run_epsilon(
        noise_multiplier=1.0, sample_rate=1.0, steps=2, delta=default_delta(5)), rel=1e-9)
    assert (tmp_path / "out" / "updates").read_text() == "2"


def test_an_empty_poisson_batch_still_updates_and_is_accounted(tmp_path):
    loop = Recorder(plan(sample_rate=1e-9, steps=3), None)
    result = loop.run(out_dir=tmp_path / "out", on_progress=None, should_stop=None)
    assert loop.micro == [] and loop.updates == [True] * 3
    assert result.steps_done == 3 and result.tokens == 0
    assert all(math.isnan(x) for x in result.losses) and result.epsilon < math.inf


def test_without_a_checkpoint_folder_only_a_stop_warns(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    done = Recorder(plan(checkpoint_every=1), None).run(out_dir=tmp_path / "a",
                                                         on_progress=None, should_stop=None)
    assert done.steps_done == 4 and caplog.records == []
    stopped = Recorder(plan(), None).run(out_dir=tmp_path / "b", on_progress=None,
                                         should_stop=lambda: True)
    assert stopped.stopped and stopped.steps_done == 0 and not (tmp_path / "b").exists()
    assert [r.getMessage() for r in caplog.records] == [
        "Training stopped at step 0 with no checkpoint folder: the run cannot be resumed."]


def test_a_stopped_run_resumes_where_it_stopped(tmp_path):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    whole = Recorder(plan(sample_rate=0.5, checkpoint_every=100), None)
    whole_result = whole.run(out_dir=tmp_path / "whole", on_progress=None, should_stop=None)
    progress = []
    first = Recorder(plan(sample_rate=0.5, checkpoint_every=100), ckpt).run(
        out_dir=out, on_progress=progress.append, should_stop=lambda: len(progress) >= 3)
    assert first.stopped and first.steps_done == 3 and not out.exists()
    saved = load_checkpoint(ckpt)
    assert saved.step == 3 and saved.run["backend"] == "recorder" and saved.state["draws"] == 3
    second = Recorder(plan(sample_rate=0.5, checkpoint_every=100), ckpt)
    result = second.run(out_dir=out, on_progress=None, should_stop=None)
    assert result.resumed_from == 3 and result.steps_done == 4 and not ckpt.exists()
    # The same draws as the run that never stopped, and ε of all four steps.
    assert result.losses == pytest.approx(whole_result.losses, nan_ok=True)
    assert result.tokens == whole_result.tokens and result.epsilon == whole_result.epsilon
    assert (out / "updates").read_text() == "4"
    # The average went on from the checkpoint: the same as the run that never stopped.
    assert (out / "weight").read_text() == (tmp_path / "whole" / "weight").read_text() == "3.0"


def test_a_finished_run_leaves_its_optimizer_state_for_the_next_one(tmp_path, caplog):
    first = Recorder(plan(steps=3), None)
    first.run(out_dir=tmp_path / "adapter", on_progress=None, should_stop=None)
    nxt = Recorder(plan(), None)
    assert nxt.continue_optimizer(tmp_path / "adapter") and nxt.carried == 3
    assert nxt.optimizer_continued
    assert not Recorder(plan(), None).continue_optimizer(None)  # from the base model

    (tmp_path / "adapter" / "optimizer.pt").write_text("damaged")
    damaged = Recorder(plan(), None)
    with caplog.at_level(logging.WARNING):
        assert not damaged.continue_optimizer(tmp_path / "adapter")
    assert "starts afresh" in caplog.text and not damaged.optimizer_continued


def weight_of(adapter) -> float:
    return float((adapter / "weight").read_text())


def test_a_private_run_publishes_the_average_of_its_iterates(tmp_path):
    # Iterates 1, 2, 3, 4 weighted 1, 2, 3, 4 (weights ∝ t while the run is young): 30 / 10.
    Recorder(plan(steps=4), None).run(out_dir=tmp_path / "dp", on_progress=None,
                                      should_stop=None)
    assert weight_of(tmp_path / "dp") == pytest.approx(3.0)
    # The last raw iterate goes on beside the optimiser's state, with the count behind it.
    iterate, steps = averaging.read(tmp_path / "dp" / averaging.ITERATE_FILE)
    assert iterate["w"].tolist() == [4.0] and steps == 4
    # A run without noise has nothing to average away: it publishes its last iterate.
    Recorder(plan(steps=4, sigma=0.0), None).run(out_dir=tmp_path / "plain", on_progress=None,
                                                 should_stop=None)
    assert weight_of(tmp_path / "plain") == 4.0
    Recorder(plan(steps=4, average_iterates=False), None).run(
        out_dir=tmp_path / "off", on_progress=None, should_stop=None)
    assert weight_of(tmp_path / "off") == 4.0


def test_a_continued_run_goes_on_with_the_average_and_the_last_iterate(tmp_path):
    first = Recorder(plan(steps=4), None)
    first.run(out_dir=tmp_path / "one", on_progress=None, should_stop=None)
    nxt = Recorder(plan(steps=2), None)
    nxt._set_weights({"w": np.array([3.0])})  # the backend loaded the adapter: the average
    assert nxt.continue_optimizer(tmp_path / "one")
    assert nxt.w.tolist() == [4.0] and nxt.average.steps == 4  # training goes on from 4
    nxt.run(out_dir=tmp_path / "two", on_progress=None, should_stop=None)
    # One averaged run of six iterates 1..6, weights ∝ t: 91 / 21.
    assert weight_of(tmp_path / "two") == pytest.approx(91 / 21, rel=1e-6)
    # Without the state the run starts its count afresh from the adapter: 4 then 5, 2:1.
    (tmp_path / "two" / averaging.ITERATE_FILE).unlink()
    fresh = Recorder(plan(steps=2), None)
    fresh._set_weights({"w": np.array([3.0])})
    assert not fresh.continue_optimizer(tmp_path / "two")
    fresh.run(out_dir=tmp_path / "three", on_progress=None, should_stop=None)
    assert weight_of(tmp_path / "three") == pytest.approx((4 + 2 * 5) / 3, rel=1e-6)


def test_the_average_forgets_the_start_once_a_run_is_long():
    assert averaging.weight(1) == 1.0 and averaging.weight(3) == 0.5
    assert averaging.weight(10_000) == pytest.approx(1 - averaging.BETA_MAX)
    avg = averaging.IterateAverage({"w": np.zeros(2)})
    for _ in range(2000):  # a constant iterate is its own average, whatever the weights
        avg.update({"w": np.array([1.0, -2.0])})
    assert avg.arrays["w"].tolist() == pytest.approx([1.0, -2.0])
    with pytest.raises(ValueError):
        averaging.weight(0)


def test_an_iterate_file_without_its_count_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(1, np.float32)}, str(tmp_path / "bare.safetensors"))
    with pytest.raises(ValueError, match="how many iterates"):
        averaging.read(tmp_path / "bare.safetensors")
    averaging.write(tmp_path / "ok.safetensors", {"w": np.ones(1)}, 7)
    arrays, steps = averaging.read(tmp_path / "ok.safetensors")
    assert steps == 7 and arrays["w"].tolist() == [1.0]
