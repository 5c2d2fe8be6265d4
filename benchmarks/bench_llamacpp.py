"""llama.cpp speed per installed catalog language model: load, prompt reading, decoding, and
what the cached persona prefix saves on the next question.

Each model runs in its own process (its peak RSS is its own), with the backend's default
threads (one per core but one). The prompt is a persona system prompt with ~18 memories,
about 500 tokens, then two questions: the first reads the whole prompt, the second only
what follows the system prompt. Greedy decoding.

    python -m benchmarks.bench_llamacpp [--quick] [--models smollm2-135m,qwen2.5-coder-0.5b]
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
SYSTEM = {"role": "system", "content": "You are Persona, the private assistant of Ada Lind. "
          "What you remember about Ada:\n" + "\n".join(
              f"- Day {i}: Ada's sister Ingrid called from Bergen about the garden, and "
              f"Oskar the whippet chased a cat." for i in range(1, 19))}
QUESTIONS = ("Where does my sister live?", "What is my dog called?")


def measure(model: str, tokens: int) -> dict:
    """Load ``model`` and answer both questions (runs inside the child process)."""
    from persona.core.llm.backend import GenerationOptions
    from persona.core.llm.llamacpp_backend import LlamaCppBackend
    from persona.core.models.catalog import get_model
    from persona.core.models.files import llm_file

    path = llm_file(get_model(model, "llm"))
    t0 = time.perf_counter()
    backend = LlamaCppBackend(path)
    load = time.perf_counter() - t0
    stats = []
    for q in QUESTIONS:
        backend.chat([SYSTEM, {"role": "user", "content": q}],
                     GenerationOptions(max_new_tokens=tokens))
        stats.append(backend.last_stats)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first, second = stats
    return {"load": load, "prompt_tokens": first.prompt_tokens,
            "prefill": first.prefill_seconds, "tps": first.decode_tokens_per_second,
            "generated": first.generated_tokens,
            "second_read": second.evaluated_tokens, "second_prompt": second.prompt_tokens,
            "second_prefill": second.prefill_seconds,
            "rss_mb": rss / 2**20 if sys.platform == "darwin" else rss / 2**10}


def _child(model: str, tokens: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_llamacpp", "--child", model,
           "--tokens", str(tokens)]
    out = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, TQDM_DISABLE="1"),
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"llama.cpp benchmark of {model} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def installed_llms() -> list[str]:
    from persona.core.models.catalog import all_models, is_installed

    return [n for n, m in all_models().items() if m.role == "llm" and is_installed(m)]


def run(quick: bool = False, models: list[str] | None = None) -> list[Row]:
    from persona.core.models.catalog import DEFAULT_LLM

    names = models or ([DEFAULT_LLM] if quick else installed_llms())
    rows = []
    for name in names:
        r = _child(name, 8 if quick else 48)
        label = f"llamacpp/{name}"
        rows += [
            Row(label, "load time (memory-mapped)", f"{r['load']:.2f} s"),
            Row(label, f"prompt reading ({r['prompt_tokens']} tokens, first question)",
                f"{r['prefill']:.2f} s"),
            Row(label, f"greedy decode tokens/s ({r['generated']} tokens)", f"{r['tps']:.1f}"),
            Row(label, "second question: prompt tokens read (rest cached)",
                f"{r['second_read']} of {r['second_prompt']}"),
            Row(label, "second question: prompt reading", f"{r['second_prefill']:.2f} s"),
            Row(label, "peak RSS", f"{r['rss_mb']:.0f} MB"),
        ]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=48, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="the default model, 8 tokens")
    parser.add_argument("--models", default="", help="comma-separated catalog names "
                        "(default: every installed language model)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.tokens)))
    else:
        print(format_table(run(quick=args.quick,
                               models=[m for m in args.models.split(",") if m] or None)))
