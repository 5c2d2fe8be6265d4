"""One training run, start to finish: the person's words → redaction → plan against the
privacy ledger → write-ahead charge → DP-SGD LoRA training → held-out evaluation →
promotion (only if not worse) or rejection.

A run stopped by SIGTERM (or killed) leaves a checkpoint and a begun ledger entry, already
charged in full; the next run resumes it with the same records and numbers instead of
starting (and charging) a new one.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from persona.core.errors import ModelError, PersonaError, TextError
from persona.core.evaluate import perplexity
from persona.core.paths import Home
from persona.core.settings import Settings
from persona.core.train.adapter_store import AdapterMeta, AdapterStore
from persona.core.train.config import (
    LoRAConfig,
    ProgressCallback,
    StopCheck,
    TrainConfig,
    TrainResult,
)
from persona.core.train.dataset import Dataset, TrainingExample, build_dataset
from persona.core.train.ledger_binding import (
    adapter_anchor_fields,
    bind_run,
    check_bindings,
    start_over,
)

Log = Callable[[str], None]


class NothingToTrain(PersonaError):
    """There are no records the run could train on."""


@dataclass
class TrainOptions:
    """One run's knobs. ``from_settings`` gives the person's (``persona train`` and the
    nightly ``persona retrain``); the defaults here are the settings' defaults."""

    epsilon: float = 2.0  # what this run may spend per record (inf: non-private)
    delta: float | None = None  # None: the ledger's (a new ledger: see privacy.rdp.ledger_delta)
    epochs: float = 1.0  # per run; a record takes part in several nightly runs over its budget
    backend: str | None = None  # None: from the settings and the platform
    # Expected Poisson batch. The noise on the averaged gradient is σC/batch: at ε = 2 per
    # run the nightly benchmark (~950 records) made held-out perplexity worse at 8 (210 →
    # 338, rejected) and better at 32 (212 → 145, promoted). See benchmarks/RESULTS.md.
    batch_size: int = 32
    clip_norm: float = 1.0
    learning_rate: float = 2e-2  # AdamW; measured on tinyshakespeare (tests/core/train)
    max_seq_len: int = 256
    lora_rank: int = 8
    # The last 8 of SmolLM2-135M's 30 blocks: backward stops there. Measured on 2 cores: 105
    # tokens/s against 83 for every block (benchmarks/RESULTS.md).
    lora_layers: int | None = 8  # None: every layer
    threads: int | None = None  # None: every core (core.train.config.train_threads)
    checkpoint_seconds: float = 120.0
    dry_run: bool = False
    # Start over from the base model: the recovery when the ledger cannot account for the
    # current adapter (core/train/ledger_binding.py).
    from_base: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> TrainOptions:
        """The settings' training knobs, with the language model's training hints where
        the person left a knob at its default (core/train/hints.py); ``overrides`` that are
        None are ignored."""
        from persona.core.train.hints import hinted_knobs

        knobs = dict(epsilon=settings.train_epsilon, delta=settings.privacy_delta,
                     epochs=settings.train_epochs, batch_size=settings.train_batch_size,
                     max_seq_len=settings.train_max_seq_len,
                     lora_layers=settings.train_lora_layers or None,
                     threads=settings.train_threads,
                     checkpoint_seconds=settings.train_checkpoint_minutes * 60)
        knobs.update(hinted_knobs(settings))
        knobs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**knobs)


@dataclass
class Evaluation:
    tokens: int
    base_perplexity: float
    reference_perplexity: float  # the current adapter's (or the base model's, if none)
    candidate_perplexity: float | None = None
    # Per-record held-out scores (core/evaluate/record_scores.py), in heldout_order's order:
    # the gate pairs them (core/train/gate.py) and a promoted candidate keeps its own.
    reference_scores: list | None = None
    candidate_scores: list | None = None

    @property
    def difference(self):
        """gate.Difference of the candidate against the reference, or None (not measured)."""
        if self.reference_scores is None or self.candidate_scores is None:
            return None
        from persona.core.train.gate import paired_difference

        return paired_difference(self.reference_scores, self.candidate_scores)

    @property
    def not_worse(self) -> bool:
        """The gate: the candidate is kept unless it is worse beyond the held-out slice's
        noise (core/train/gate.py); a candidate with no finite perplexity never is."""
        if self.candidate_perplexity is None or not math.isfinite(self.candidate_perplexity):
            return False
        diff = self.difference
        if diff is None:
            return self.candidate_perplexity <= self.reference_perplexity
        return not diff.worse_beyond_noise


@dataclass
class RunOutcome:
    plan: object  # privacy.plan.RunPlan
    backend: str
    run_id: str | None = None
    resumed: bool = False
    result: TrainResult | None = None
    evaluation: Evaluation | None = None
    promoted: bool = False
    version: str | None = None
    reason: str = ""
    redaction: dict = field(default_factory=dict)
    seconds: float = 0.0
    membership: object = None  # core.evaluate.membership.MembershipAudit of a promoted adapter

    def summary_line(self) -> str:
        p = self.plan
        eps = "non-private" if not p.private else f"ε {p.run_epsilon:.2f}/run"
        head = (f"{self.backend}: {len(p.eligible_ids)} records ({p.excluded} left out at "
                f"their budget), {p.steps} steps, σ {p.noise_multiplier:.3g}, {eps}")
        if self.result is None:
            return f"{head} — {self.reason}"
        ev = self.evaluation
        ppl = ("" if ev is None or ev.candidate_perplexity is None else
               f", held-out perplexity {ev.reference_perplexity:.2f} → "
               f"{ev.candidate_perplexity:.2f}"
               + ("" if ev.difference is None else f" ({ev.difference.describe()})"))
        verdict = f"promoted as {self.version}" if self.promoted else f"rejected: {self.reason}"
        return f"{head}{ppl}; {verdict} ({self.seconds:.0f} s)"


def training_backend(settings: Settings) -> str:
    """The backend that trains: the chat backend, except that llama.cpp runs models but
    does not train them, so where chat runs on llama.cpp, torch trains (peft adapters, which
    are converted for llama.cpp before promotion)."""
    from persona.core.llm.models import default_backend_name

    name = default_backend_name(settings)
    return "torch" if name == "llamacpp" else name


def trainer(backend: str):
    """(train function, adapter format) of ``backend``."""
    if backend == "torch":
        from persona.core.train.dp_torch import train_torch

        return train_torch, "peft"
    if backend == "mlx":
        from persona.core.train.dp_mlx import train_mlx

        return train_mlx, "mlx"
    raise PersonaError(f"unknown training backend {backend!r}; use 'torch' or 'mlx'")


def load_dataset(home: Home, settings: Settings) -> Dataset:
    from persona.core.memory import retention
    from persona.core.memory.embed import Embedder
    from persona.core.memory.store import MemoryStore
    from persona.privacy.forgotten import read_forgotten

    store = MemoryStore(home.memory_dir, Embedder.from_settings(settings), settings=settings)
    # Expired recordings and transcripts go before anything is read for training.
    retention.sweep(home, store, settings)
    # A forgotten record is gone from the store; one back from an old copy is still left out
    # of training and of the held-out slice alike (privacy/forgotten.py).
    forgotten = read_forgotten(home.privacy_dir)
    return build_dataset([m for m in store.all_memories() if m.id not in forgotten],
                         names=settings.redact_names)


def run_training(home: Home, settings: Settings, options: TrainOptions, *,
                 on_progress: ProgressCallback | None = None,
                 should_stop: StopCheck | None = None, log: Log = lambda _m: None
                 ) -> RunOutcome:
    """One run under the home's training lock (``RetrainBusyError`` if another process or
    thread is training): it resumes the interrupted run, if any, or plans a new one."""
    from persona.core.train.jobcontrol import RunLock, training_lock_path

    # Every entry point comes through here, so a run stopped by a process that is still
    # alive (and holds the lock) is never resumed under its feet.
    with RunLock(training_lock_path(home)):
        return _run_locked(home, settings, options, on_progress=on_progress,
                           should_stop=should_stop, log=log)


def _run_locked(home: Home, settings: Settings, options: TrainOptions, *,
                on_progress: ProgressCallback | None, should_stop: StopCheck | None,
                log: Log) -> RunOutcome:
    from persona.core.llm.adapter_base import adapter_fit, base_record
    from persona.core.llm.adapters import find_adapter
    from persona.core.llm.models import ensure_model_folder
    from persona.privacy.ledger import Ledger
    from persona.privacy.plan import plan_run
    from persona.privacy.report import build_summary

    t0 = time.perf_counter()
    backend = options.backend or training_backend(settings)
    train_fn, fmt = trainer(backend)
    ledger = Ledger(home.ledger_file, budget=settings.privacy_budget)
    store = AdapterStore(home)
    checkpoints = checkpoints_dir(home)
    if not options.from_base:
        # Before anything is planned or charged: never continue from an adapter or a
        # checkpoint whose spending the ledger no longer holds.
        check_bindings(store, ledger, checkpoints)
    elif not options.dry_run:
        start_over(store, ledger, checkpoints, log)
    dataset = load_dataset(home, settings)

    run = _resumable(ledger, checkpoints, backend)
    if run is not None and not options.dry_run:
        plan = _plan_from_run(run)
        examples = _select(dataset.train, run.record_ids)
        config = _config_from_run(run, options)
        log(f"Resuming the interrupted run {run.run_id} ({len(examples)} records).")
    else:
        ids = [ex.record_id for ex in dataset.train]
        if not ids:
            raise NothingToTrain("there is nothing to train on yet: no memories of your own "
                                 "words outside the held-out slice. Talk or import notes first.")
        _check_judgeable(dataset)
        plan = plan_run(ledger, ids, target_epsilon=options.epsilon, delta=options.delta,
                        batch_size=options.batch_size, epochs=options.epochs)
        examples = _select(dataset.train, plan.eligible_ids)
        config = TrainConfig(noise_multiplier=plan.noise_multiplier,
                             sample_rate=plan.sample_rate, steps=plan.steps,
                             clip_norm=options.clip_norm, learning_rate=options.learning_rate,
                             max_seq_len=options.max_seq_len, delta=plan.delta,
                             threads=options.threads,
                             checkpoint_seconds=options.checkpoint_seconds,
                             lora=LoRAConfig(rank=options.lora_rank,
                                             alpha=2.0 * options.lora_rank,
                                             layers=options.lora_layers))
    outcome = RunOutcome(plan=plan, backend=backend, resumed=run is not None,
                         redaction=dataset.redaction_report.to_dict())
    if options.dry_run:
        outcome.reason = "dry run: nothing was trained or charged"
        return outcome
    if not examples:
        outcome.reason = ("every record is at its privacy budget; nothing was trained "
                          f"({plan.excluded} records left out)")
        return outcome

    if run is None:
        run_id = ledger.begin_run(**plan.begin_kwargs(), clip_norm=config.clip_norm,
                                  backend=backend, info=_run_info(config))
        bind_run(checkpoints / run_id, ledger)
    else:
        run_id = run.run_id
    outcome.run_id = run_id
    model_folder = ensure_model_folder(settings, home)
    candidate = store.new_candidate(run_id)
    # An adapter trained for another base model (the selected model changed) is not
    # continued from: this run starts from the new base model, charged as usual.
    fit = adapter_fit(settings, store.current_dir())
    from_base = options.from_base or fit.adapter_dir is None
    if fit.note and not options.from_base:
        log(f"Training from the base model: {fit.note}.")
    init = None if from_base else find_adapter(store.current_dir(), fmt)
    try:
        result = train_fn(model_folder, examples, config, out_dir=candidate / fmt,
                          init_adapter=init, checkpoint_dir=checkpoints / run_id,
                          on_progress=on_progress, should_stop=should_stop)
    except ModelError as exc:
        store.discard(candidate)
        if run is None:
            raise
        # The interrupted run cannot resume (its records or adapter changed since): it stays
        # charged in full, is closed as failed, and a new run is planned.
        log(f"The interrupted run {run_id} cannot resume ({exc}); starting a new one.")
        shutil.rmtree(checkpoints / run_id, ignore_errors=True)
        ledger.complete_run(run_id, steps_done=0, outcome="failed")
        return _run_locked(home, settings, options, on_progress=on_progress,
                           should_stop=should_stop, log=log)
    except BaseException:
        store.discard(candidate)  # the checkpoint stays for the next run to resume
        raise
    outcome.result = result
    if result.stopped:
        store.discard(candidate)
        outcome.reason = f"stopped at step {result.steps_done}/{result.steps}; the next run resumes"
        return outcome
    ledger.complete_run(run_id, steps_done=result.steps_done)

    digest = heldout_digest(dataset.heldout, config.max_seq_len, backend,
                            base=base_record(settings), model=settings.llm_model)
    outcome.evaluation = evaluate(model_folder, backend, dataset.heldout, config.max_seq_len,
                                  current=None if from_base
                                  else find_adapter(store.current_dir(), fmt),
                                  candidate=candidate / fmt,
                                  known=None if from_base else known_evaluation(store, digest))
    if outcome.evaluation is None:
        outcome.reason = "no held-out records yet to judge it by; kept the current adapter"
        store.discard(candidate)
    elif outcome.evaluation.not_worse:
        from persona.core.train.gate import save_scores

        save_scores(candidate, outcome.evaluation.candidate_scores)
        _add_other_format(candidate, fmt, model_folder, log)
        _add_gguf(candidate, settings, log)
        summary = build_summary(ledger)
        ev = outcome.evaluation
        outcome.version = store.promote(candidate, AdapterMeta(
            version="", created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), run_id=run_id,
            backend=backend, base_perplexity=ev.base_perplexity,
            perplexity=ev.candidate_perplexity, heldout_tokens=ev.tokens,
            max_record_epsilon=_float_or_none(summary["max_record_epsilon"]),
            private=bool(summary.get("private", plan.private)), from_base=from_base,
            heldout_digest=digest,
            **base_record(settings), **adapter_anchor_fields(ledger)))
        outcome.promoted = True
        from persona.core.train.audit_hook import audit_after_run

        outcome.membership = audit_after_run(
            home, backend, model_folder, find_adapter(store.current_dir(), fmt), examples,
            dataset.heldout,
            max_seq_len=config.max_seq_len, version=outcome.version, run_id=run_id, log=log)
    else:
        diff = outcome.evaluation.difference
        noise = "" if diff is None else f" beyond noise ({diff.describe()})"
        outcome.reason = f"held-out perplexity got worse{noise}; kept the current adapter"
        store.discard(candidate)
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _check_judgeable(dataset: Dataset) -> None:
    """Refuse, before anything is charged, a run whose adapter could not be judged: with no
    held-out records the promotion gate has nothing to compare, so the ε would be spent on
    an adapter that is thrown away."""
    if not any(ex.target.strip() for ex in dataset.heldout):
        raise NothingToTrain(
            f"there is nothing to judge a run by yet: none of your {len(dataset.train)} "
            "trainable records falls in the held-out slice (about 1 in 10 does), so a run "
            "would spend privacy budget on an adapter that could not be evaluated. Nothing was "
            "charged; talk or import a few more notes and train again.")


def heldout_order(heldout: Sequence[TrainingExample]) -> list[TrainingExample]:
    """The held-out examples in the order their per-record scores are kept in: the same
    records give the same order whatever order the store lists them in."""
    return sorted(heldout, key=lambda e: (e.record_id, e.prompt, e.target))


def evaluate(model_folder: Path, backend: str, heldout: Sequence[TrainingExample],
             max_seq_len: int, *, current: Path | None, candidate: Path | None,
             known: Evaluation | None = None) -> Evaluation | None:
    """Held-out perplexity of the base model, the current adapter and the candidate, with
    per-record scores for the gate. ``known``: the base model's perplexity and the current
    adapter's scores, measured on these same records when the current adapter was promoted
    (``known_evaluation``); only the candidate is measured then."""
    from persona.core.evaluate.record_scores import pooled, record_scores

    if not heldout:
        return None
    records = heldout_order(heldout)

    def scores(adapter: Path | None) -> list:
        return record_scores(backend, model_folder, adapter, [records], max_seq_len)[0]

    if known is not None:
        base_ppl, ref = known.base_perplexity, known.reference_scores
    else:
        base = scores(None)
        if not base:
            raise TextError(f"None of the {len(records)} held-out examples has a token to "
                            "predict; give held-out text with words in it.")
        base_ppl = math.exp(pooled(base)[0])
        ref = base if current is None else scores(current)
    cand = None if candidate is None else scores(candidate)
    if known is not None and cand is not None and current is not None and (
            [s.tokens for s in ref] != [s.tokens for s in cand]):
        ref = scores(current)  # kept scores of other token streams (a new tokenizer): measure
    ref_nll, tokens = pooled(ref)
    return Evaluation(tokens=tokens, base_perplexity=base_ppl,
                      reference_perplexity=math.exp(ref_nll),
                      candidate_perplexity=None if cand is None else
                      perplexity.perplexity(pooled(cand)[0]),
                      reference_scores=ref, candidate_scores=cand)


def nll_version(backend: str) -> int:
    """The version of how ``backend`` computes a held-out NLL (each module's NLL_VERSION)."""
    if backend == "mlx":
        from persona.core.train import nll_mlx
        return nll_mlx.NLL_VERSION
    return perplexity.NLL_VERSION


def heldout_digest(heldout: Sequence[TrainingExample], max_seq_len: int, backend: str, *,
                   base: dict, model: str | None) -> str:
    """What a held-out perplexity depends on besides the adapter: the held-out records' words
    and how they are cut, the backend, the base model, and how the NLL is computed."""
    h = hashlib.sha256(json.dumps([backend, max_seq_len, base, model, nll_version(backend)],
                                  sort_keys=True).encode())
    for ex in sorted(heldout, key=lambda e: e.record_id):
        h.update(json.dumps([ex.record_id, ex.prompt, ex.target]).encode("utf-8"))
    return h.hexdigest()


def known_evaluation(store: AdapterStore, digest: str) -> Evaluation | None:
    """The base model's held-out perplexity and the current adapter's per-record scores as
    measured when the current adapter was promoted, if that was on the same records
    (``digest``): a night whose held-out slice has not changed then measures only its
    candidate (two passes of three saved)."""
    from persona.core.train.gate import load_scores

    version = store.current_version()
    meta = store.meta(version) if version else None
    if (meta is None or meta.heldout_digest != digest or meta.perplexity is None
            or meta.base_perplexity is None or not meta.heldout_tokens):
        return None
    kept = load_scores(store.current_dir())  # None: promoted before scores were kept
    if kept is None or sum(s.tokens for s in kept) != meta.heldout_tokens:
        return None
    return Evaluation(tokens=meta.heldout_tokens, base_perplexity=meta.base_perplexity,
                      reference_perplexity=meta.perplexity, reference_scores=kept)


def _select(examples: Sequence[TrainingExample], ids) -> list[TrainingExample]:
    wanted = set(ids)
    return [ex for ex in examples if ex.record_id in wanted]


def _run_info(config: TrainConfig) -> dict:
    return {"learning_rate": config.learning_rate, "max_seq_len": config.max_seq_len,
            "lora_rank": config.lora.rank, "lora_alpha": config.lora.alpha,
            "target_modules": list(config.lora.target_modules), "seed": config.seed,
            "lora_layers": config.lora.layers, "average_iterates": config.average_iterates}


def _config_from_run(run, options: TrainOptions) -> TrainConfig:
    """The begun run's own numbers; only how it runs (threads, checkpoints) is today's."""
    info = run.info or {}
    return TrainConfig(noise_multiplier=run.noise_multiplier, sample_rate=run.sample_rate,
                       steps=run.steps, clip_norm=run.clip_norm or 1.0, delta=run.delta,
                       threads=options.threads, checkpoint_seconds=options.checkpoint_seconds,
                       learning_rate=info.get("learning_rate", 2e-3),
                       max_seq_len=info.get("max_seq_len", 256), seed=info.get("seed", 0),
                       # Runs begun before 2026-12-04 published their last iterate.
                       average_iterates=info.get("average_iterates", False),
                       lora=LoRAConfig(rank=info.get("lora_rank", 8),
                                       alpha=info.get("lora_alpha", 16.0),
                                       layers=info.get("lora_layers"),
                                       target_modules=tuple(info.get("target_modules",
                                                                     ("q_proj", "v_proj")))))


def checkpoints_dir(home: Home) -> Path:
    return home.root / "train" / "checkpoints"


def interrupted_run(home: Home, settings: Settings, backend: str | None = None):
    """The ledger's begun-but-unfinished run that the next run will resume, or None."""
    from persona.privacy.ledger import Ledger

    return _resumable(Ledger(home.ledger_file, budget=settings.privacy_budget),
                      checkpoints_dir(home), backend or training_backend(settings))


def _resumable(ledger, checkpoints: Path, backend: str):
    """The newest begun-but-unfinished run of ``backend`` that left a checkpoint."""
    runs = [r for r in ledger.pending_runs()
            if r.backend == backend and (checkpoints / r.run_id).exists()]
    return runs[-1] if runs else None


def _plan_from_run(run):
    from persona.privacy.plan import RunPlan

    return RunPlan(target_epsilon=run.target_epsilon or run.epsilon, delta=run.delta,
                   noise_multiplier=run.noise_multiplier, sample_rate=run.sample_rate,
                   steps=run.steps, epochs=run.epochs, batch_size=None, budget=0.0,
                   run_epsilon=run.epsilon, eligible_ids=list(run.record_ids))


def _add_other_format(candidate: Path, fmt: str, model_folder: Path, log: Log) -> None:
    """The adapter is written in the other backend's format too, so the persona runs (and
    travels) on either: a torch-trained one on a Mac, an MLX-trained one with torch."""
    from persona.core.llm.adapters import mlx_to_peft, peft_to_mlx

    convert, other = (peft_to_mlx, "mlx") if fmt == "peft" else (mlx_to_peft, "peft")
    try:
        layers = json.loads((model_folder / "config.json").read_text())["num_hidden_layers"]
        convert(candidate / fmt, candidate / other, num_hidden_layers=layers)
    except (PersonaError, OSError, KeyError, ValueError) as exc:
        log(f"(the adapter was not converted for {other}: {exc})")


def _add_gguf(candidate: Path, settings: Settings, log: Log) -> None:
    """llama.cpp's GGUF LoRA beside the peft adapter, so both formats are promoted together
    (a failure is logged: the backend converts it on first load instead)."""
    if settings.llm_model:  # a model folder, which llama.cpp does not run
        return
    from persona.core.llm.lora_gguf import BaseModel, write_gguf_adapter
    from persona.core.models.files import llm_file, selected_llm

    try:  # the pinned file's header (a runtime copy has the same tensors and names)
        write_gguf_adapter(candidate, BaseModel.from_file(llm_file(selected_llm(settings))))
    except (PersonaError, OSError, KeyError, ValueError) as exc:
        log(f"(the adapter was not converted for llama.cpp: {exc})")


def _float_or_none(x) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None
