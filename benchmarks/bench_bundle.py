"""The persona bundle: export and import throughput, peak memory as the persona grows, and
the time of the passphrase KDF (Argon2id at the export parameters).

The homes are the cached memory stores of bench_desktop_memories (10,000 and 100,000
memories with 384-d vectors). Each export and import runs in its own process, which reports
its own time and peak RSS; the time is that of ``export_persona`` / ``import_persona``
alone (KDF, base-model hash, every chunk and, on import, rebuilding the table and indexes).
"decrypt+verify" is the import's streaming part alone (every chunk and the manifest, into a
folder), whose memory must not grow with the bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_desktop_memories import build_home
from benchmarks.table import Row, format_table

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase, not secret"

_CHILD = r"""
import json, resource, sys, time
from persona.core.bundle import export_persona, import_persona
from persona.core.paths import Home
action, a, b, secret = sys.argv[1:5]
t0 = time.perf_counter()
if action == "export":
    out = export_persona(Home(__import__("pathlib").Path(a)), b, passphrase=secret)
    done = {"memories": out.memories, "bytes": out.size}
elif action == "decrypt":
    import os
    from persona.privacy.bundle.reader import read_bundle
    os.mkdir(b)
    out = read_bundle(a, b, passphrase=secret)
    done = {"memories": None}
else:
    out = import_persona(a, b, passphrase=secret)
    done = {"memories": out.memories}
done["seconds"] = time.perf_counter() - t0
done["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(done))
"""


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, *args, PASSPHRASE], cwd=ROOT,
                         capture_output=True, text=True, timeout=3600,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def kdf_seconds(repeats: int = 5) -> tuple[float, float]:
    """Median (wall, CPU) seconds of one key derivation. The CPU time is what the KDF costs
    on an idle machine (it runs on one thread); the wall time also counts other load."""
    from persona.privacy.bundle.kdf import KdfParams, derive_master_key

    wall, cpu = [], []
    for _ in range(repeats):
        params = KdfParams.fresh()
        t0, c0 = time.perf_counter(), time.process_time()
        derive_master_key(PASSPHRASE, params)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def run(quick: bool = False, log=print) -> list[Row]:
    from persona.privacy.bundle.kdf import DEFAULT_ITERATIONS, DEFAULT_LANES, DEFAULT_MEMORY_KIB

    rows = []
    wall, cpu = kdf_seconds(2 if quick else 5)
    what = (f"Argon2id ({DEFAULT_MEMORY_KIB // 1024} MiB, {DEFAULT_ITERATIONS} passes, "
            f"{DEFAULT_LANES} lanes), median")
    rows.append(Row("bundle", what + " CPU time", f"{cpu:.2f} s", "0.5-1 s",
                    0.5 <= cpu <= 1.0))
    rows.append(Row("bundle", what + " wall time (with the machine's other load)",
                    f"{wall:.2f} s"))
    sizes = (2000, 10_000) if quick else (10_000, 100_000)
    peaks = {}
    for n in sizes:
        home = build_home(n, log=log)
        with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
            bundle = Path(tmp) / "p.persona"
            ex = _child("export", str(home), str(bundle))
            im = _child("import", str(bundle), str(Path(tmp) / "home"))
            de = _child("decrypt", str(bundle), str(Path(tmp) / "plain"))
            assert ex["memories"] == im["memories"] == n, (ex, im)
            mb = ex["bytes"] / 1e6
            store_mb = sum(p.stat().st_size for p in (home / "memory.lancedb").rglob("*")
                           if p.is_file()) / 1e6
            shutil.rmtree(Path(tmp) / "home", ignore_errors=True)
        peaks[n] = (ex["peak_kib"] / 1024, de["peak_kib"] / 1024, im["peak_kib"] / 1024)
        log(f"  {n}: bundle {mb:.1f} MB (store {store_mb:.1f} MB), export {ex['seconds']:.2f} s,"
            f" import {im['seconds']:.2f} s, peak {peaks[n][0]:.0f}/{peaks[n][1]:.0f}/"
            f"{peaks[n][2]:.0f} MiB")
        rows += [
            Row("bundle", f"export, {n:,} memories ({mb:.0f} MB bundle)",
                f"{mb / ex['seconds']:.1f} MB/s ({ex['seconds']:.1f} s)"),
            Row("bundle", f"import, {n:,} memories (table and indexes rebuilt)",
                f"{mb / im['seconds']:.1f} MB/s ({im['seconds']:.1f} s)"),
            Row("bundle", f"peak RSS export / decrypt+verify / import, {n:,} memories",
                f"{peaks[n][0]:.0f} / {peaks[n][1]:.0f} / {peaks[n][2]:.0f} MiB"),
        ]
    small, large = sizes
    for i, what in enumerate(("export", "decrypt+verify")):
        growth = peaks[large][i] / peaks[small][i]
        rows.append(Row("bundle", f"{what} peak RSS, {large:,} vs {small:,} memories",
                        f"x{growth:.2f}", "<= x1.5 (flat)", growth <= 1.5))
    # The whole import also rebuilds the indexes; LanceDB's IVF training holds every vector
    # (the store does the same once it reaches 10k rows), so that part grows with the store.
    growth = peaks[large][2] / peaks[small][2]
    rows.append(Row("bundle", f"import peak RSS (with the vector index), {large:,} vs "
                              f"{small:,}", f"x{growth:.2f}"))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
