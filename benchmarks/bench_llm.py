"""Language-model speed: load time, time to first token, tokens/s and peak memory per backend.

Each backend runs in its own process, so that its peak RSS is its own. Greedy decoding of
a short chat, on the bundled SmolLM2-135M (converted on first use, which is not timed here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.table import Row, format_table

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "system", "content": "You are a storyteller."},
          {"role": "user", "content": "Tell me a long story about a cat who learns to fly."}]


def measure(backend_name: str, threads: int | None, tokens: int) -> dict:
    """Load one backend and time one greedy reply (runs inside the child process)."""
    from persona.core.llm.backend import GenerationOptions
    from persona.core.llm.models import ensure_model_folder
    from persona.core.paths import Home
    from persona.core.settings import Settings

    folder = ensure_model_folder(Settings(), Home.resolve())
    t0 = time.perf_counter()
    if backend_name == "torch":
        from persona.core.llm.torch_backend import TorchBackend

        backend = TorchBackend(folder, threads=threads)
    else:
        from persona.core.llm.mlx_backend import MLXBackend

        backend = MLXBackend(folder)
    load = time.perf_counter() - t0
    prompt_tokens = len(backend.encode(PROMPT))
    t0 = time.perf_counter()
    first, pieces = None, []
    for piece in backend.stream_chat(PROMPT, GenerationOptions(max_new_tokens=tokens)):
        first = first if first is not None else time.perf_counter() - t0
        pieces.append(piece)
    total = time.perf_counter() - t0
    reply = "".join(pieces)
    n = len(backend.tokenizer.encode(reply, add_special_tokens=False))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes vs KiB
    return {"load": load, "ttft": first or total, "total": total, "tokens": n,
            "prompt_tokens": prompt_tokens,
            "tps": (n - 1) / (total - first) if first and n > 1 else 0.0, "rss_mb": rss_mb}


def _child(backend_name: str, threads: int | None, tokens: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_llm", "--child", backend_name,
           "--tokens", str(tokens)] + (["--threads", str(threads)] if threads else [])
    env = dict(os.environ, TQDM_DISABLE="1")
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{backend_name} benchmark failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    """Rows for torch (default threads, and 2 threads in the full run) and MLX."""
    from persona.core.llm.models import ensure_model_folder
    from persona.core.paths import Home
    from persona.core.settings import Settings

    ensure_model_folder(Settings(), Home.resolve())  # convert first, outside the timings
    tokens = 8 if quick else 60
    runs = [("torch", None)] if quick else [("torch", None), ("torch", 2)]
    try:
        import mlx_lm  # noqa: F401

        runs.append(("mlx", None))
    except ImportError:
        pass
    rows = []
    for name, threads in runs:
        from persona.core.llm.torch_backend import default_threads

        n = threads or default_threads()
        label = f"llm/{name}" + (f" ({n} thread{'s' if n > 1 else ''})"
                                 if name == "torch" else "")
        r = _child(name, threads, tokens)
        rows += [
            Row(label, "load time", f"{r['load']:.1f} s"),
            Row(label, f"time to first token ({r['prompt_tokens']}-token prompt)",
                f"{r['ttft']:.2f} s", "<= 2 s" if name == "torch" else "",
                r["ttft"] <= 2 if name == "torch" else None),
            Row(label, f"greedy tokens/s ({r['tokens']} tokens)", f"{r['tps']:.1f}"),
            Row(label, "peak RSS", f"{r['rss_mb']:.0f} MB"),
        ]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", choices=["torch", "mlx"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.threads, args.tokens)))
    else:
        print(format_table(run(quick=args.quick)))
