"""The shared training loop (``persona.core.train.loop.TrainLoop``) with a backend that learns nothing:
what it asks of a backend, its stops, checkpoints and resuming. No model, so it is fast; the
real backends run it in test_dp_torch.py and test_dp_mlx.py."""

from __future__ import annotations

import logging
import math
import random

import pytest

from persona.core.train import optimizer_state
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
    """Records the micro-batch sizes and the updates the loop asks for; its "weights" are
    the number of updates, its extra state a seeded RNG's draws so far."""

    def __init__(self, config: TrainConfig, checkpoint_dir, n: int = 5):
        examples = [TrainingExample(f"r{i}", "", "word " * (i + 1)) for i in range(n)]
        super().__init__(config, checkpoint_dir, Tokenizer(), examples, micro_batch=2,
                         identity={"backend": "recorder"})
        self.rng, self.draws = random.Random(0), 0
        self.micro: list[int] = []
        self.updates: list[bool] = []

    def _draw(self, n: int, q: float) -> list[int]:
        self.draws += 1
        return [i for i in range(n) if self.rng.random() < q]

    def _micro_step(self, micro) -> list[float]:
        self.micro.append(len(micro))
        return [float(len(e.ids)) for e in micro]

    def _update(self, *, empty: bool) -> None:
        self.updates.append(empty)

    def _save_adapter(self, out_dir) -> None:
        out_dir.mkdir()
        (out_dir / "updates").write_text(str(len(self.updates)))

    def _write_files(self, folder) -> None:
        (folder / "updates").write_text(str(len(self.updates)))

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
