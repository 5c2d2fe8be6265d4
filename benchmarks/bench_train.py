"""On-device DP training: what DP costs in quality and time, and what it buys in privacy.

On tinyshakespeare (``benchmarks.train_data``: records are speeches; training side the first
90%, held-out perplexity on the last 10%), with the default model and the product's LoRA
and optimiser defaults (``persona.core.train.runner.TrainOptions``):

- held-out perplexity of the base model, of DP-SGD at ε = 8, of the same code path without
  noise (``--epsilon inf``) and of plain LoRA fine-tuning, all on the same records and steps;
- wall time and training tokens/s of each, on torch and on MLX, and peak memory;
- the nightly job (``persona retrain``) over ~50k tokens of new memories, end to end;
- a membership-inference audit of every adapter: the loss-threshold attack's AUC on the
  trained records against records of the same text never trained on.

Every job runs in its own process (``benchmarks.train_jobs``) so its peak memory is its own.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.mia import calibrated_attack_auc, loss_attack_auc
from benchmarks.table import Row

ROOT = Path(__file__).resolve().parents[1]
TARGET_EPSILON = 8.0
FULL = {"n_train": 256, "n_outside": 256, "n_heldout": 128, "max_len": 128, "epochs": 3,
        "batch": 16, "mlx_steps": 6, "nightly_tokens": 50_000}
QUICK = {"n_train": 24, "n_outside": 24, "n_heldout": 12, "max_len": 48, "epochs": 1,
         "batch": 8, "mlx_steps": 1, "nightly_tokens": 1_500}


def job(spec: dict) -> dict:
    """Run one job of ``benchmarks.train_jobs`` in a child process; its JSON answer."""
    cmd = [sys.executable, "-m", "benchmarks.train_jobs", json.dumps(spec)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"job {spec['job']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def plan(sizes: dict) -> dict:
    """The shared numbers of the runs: q, steps, δ and the σ of ε = 8."""
    from benchmarks.train_jobs import settings_for
    from persona.core.train.runner import TrainOptions
    from persona.privacy.rdp import calibrate_noise, default_delta

    defaults = TrainOptions.from_settings(settings_for())  # the default model's hints
    q = sizes["batch"] / sizes["n_train"]
    steps = math.ceil(sizes["epochs"] / q)
    delta = default_delta(sizes["n_train"])
    sigma = calibrate_noise(target_epsilon=TARGET_EPSILON, delta=delta, sample_rate=q,
                            steps=steps)
    return {"job": "train", "n_train": sizes["n_train"], "n_outside": sizes["n_outside"],
            "n_heldout": sizes["n_heldout"], "max_len": sizes["max_len"], "q": q,
            "steps": steps, "delta": delta, "sigma": sigma, "lr": defaults.learning_rate,
            "layers": defaults.lora_layers}


def run(quick: bool = False) -> list[Row]:
    sizes = QUICK if quick else FULL
    base = plan(sizes)
    scratch = Path(tempfile.mkdtemp(prefix="persona-bench-train-"))
    runs = {
        "DP ε=8": dict(base, mode="torch"),
        "non-private (σ=0)": dict(base, mode="torch", sigma=0.0),
        "plain LoRA": dict(base, mode="plain", sigma=0.0),
    }
    trained, losses = {}, {"base": job(dict(base, job="losses"))}
    for name, spec in runs.items():
        spec["out"] = str(scratch / name.split()[0])
        trained[name] = job(spec)
        losses[name] = job(dict(base, job="losses", adapter=spec["out"]))
    mlx = job(dict(base, mode="mlx", steps=sizes["mlx_steps"], out=str(scratch / "mlx")))
    nightly = job({"job": "nightly", "tokens": sizes["nightly_tokens"]})
    return (quality_rows(base, losses) + speed_rows(trained, mlx)
            + nightly_rows(nightly) + audit_rows(losses))


def quality_rows(base: dict, losses: dict) -> list[Row]:
    ppl = {name: out["heldout_perplexity"] for name, out in losses.items()}
    setup = (f"{base['n_train']} records, {base['steps']} steps, q {base['q']:.3g}, "
             f"σ {base['sigma']:.3g}, δ {base['delta']:.2g}")
    rows = [Row("train", f"held-out perplexity, {name} ({setup})" if name == "base"
                else f"held-out perplexity, {name}", f"{value:.2f}")
            for name, value in ppl.items()]
    for ref in ("non-private (σ=0)", "plain LoRA"):
        gain = ppl["base"] - ppl[ref]
        kept = (ppl["base"] - ppl["DP ε=8"]) / gain if gain > 0 else math.nan
        rows.append(Row("train", f"DP's share of the perplexity reduction of {ref}",
                        f"{kept:.0%}", "≥ 70%", kept >= 0.7))
    return rows


def speed_rows(trained: dict, mlx: dict) -> list[Row]:
    dp = trained["DP ε=8"]
    rows = []
    for ref in ("non-private (σ=0)", "plain LoRA"):
        ratio = dp["seconds"] / trained[ref]["seconds"]
        rows.append(Row("train", f"wall time DP / {ref}, same records and steps",
                        f"{ratio:.2f} ({dp['seconds']:.0f} / {trained[ref]['seconds']:.0f} s)",
                        "≤ 1.5", ratio <= 1.5))
    for name, out in (("torch DP", dp), ("torch plain", trained["plain LoRA"]),
                      ("MLX DP", mlx)):
        rows.append(Row("train", f"training tokens/s, {name}",
                        f"{out['tokens'] / out['seconds']:.1f}"))
    for name, out in (("torch DP", dp), ("MLX DP", mlx)):
        rows.append(Row("train", f"peak memory (max RSS), {name} training",
                        f"{out['rss_mb']:.0f} MB", "≤ 3072 MB", out["rss_mb"] <= 3072))
    return rows


def nightly_rows(out: dict) -> list[Row]:
    minutes = out["seconds"] / 60
    ppl = out["perplexity"]
    return [
        Row("train", f"nightly retrain over {out['tokens']} new tokens ({out['memories']} "
                     f"memories, {out['records']} trained, {out['steps']} steps), wall time",
            f"{minutes:.1f} min (training {out['train_seconds'] / 60:.1f})", "≤ 15 min",
            minutes <= 15),
        Row("train", "nightly retrain: held-out perplexity base → adapter, promoted",
            "n/a" if ppl is None else f"{ppl[0]:.2f} → {ppl[1]:.2f}, {out['promoted']}"),
        Row("train", "nightly retrain: peak memory (max RSS)", f"{out['rss_mb']:.0f} MB",
            "≤ 3072 MB", out["rss_mb"] <= 3072),
    ]


def audit_rows(losses: dict) -> list[Row]:
    base = losses["base"]
    rows = [Row("train", "membership AUC, loss threshold, base model (control: no member "
                         "was trained on)",
                f"{loss_attack_auc(base['train'], base['outside']):.3f}")]
    for name in ("DP ε=8", "non-private (σ=0)", "plain LoRA"):
        out = losses[name]
        value = loss_attack_auc(out["train"], out["outside"])
        dp = name.startswith("DP")
        rows.append(Row("train", f"membership AUC, loss threshold, {name}", f"{value:.3f}",
                        "≤ 0.6" if dp else "", value <= 0.6 if dp else None))
        calibrated = calibrated_attack_auc(out["train"], base["train"], out["outside"],
                                           base["outside"])
        rows.append(Row("train", f"membership AUC, calibrated by the base model, {name}",
                        f"{calibrated:.3f}"))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
