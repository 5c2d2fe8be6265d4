"""A separate process for the ledger's crash and lock tests (run by tests/privacy/test_ledger.py).

    python ledger_child.py begin HOME N SIGMA Q STEPS   begin a run on N records, print
                                                         "begun RUN_ID", then "train" forever
    python ledger_child.py churn HOME N                 begin and complete runs in a loop,
                                                         printing each id once it is durable
    python ledger_child.py hold-lock HOME               hold the ledger's lock forever
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from persona.core.paths import Home  # noqa: E402
from persona.privacy.ledger import Ledger  # noqa: E402


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> None:
    mode, home = argv[0], Path(argv[1])
    ledger = Ledger(Home.resolve(home).ledger_file)
    if mode == "begin":
        n, sigma, q, steps = int(argv[2]), float(argv[3]), float(argv[4]), int(argv[5])
        run_id = ledger.begin_run(record_ids=[f"rec{i}" for i in range(n)],
                                  noise_multiplier=sigma, sample_rate=q, steps=steps,
                                  clip_norm=1.0, delta=1e-5, backend="torch", epochs=1)
        say(f"begun {run_id}")
        while True:  # "training": the test kills us here, before complete_run
            time.sleep(1)
    elif mode == "churn":
        n = int(argv[2])
        for night in range(10**9):
            ids = [f"night{night}-rec{i}" for i in range(n)]
            run_id = ledger.begin_run(record_ids=ids, noise_multiplier=1.0, sample_rate=0.05,
                                      steps=40, clip_norm=1.0, delta=1e-5, backend="mlx",
                                      epochs=2)
            say(f"begun {run_id}")
            ledger.complete_run(run_id, steps_done=40)
            say(f"completed {run_id}")
    elif mode == "hold-lock":
        with ledger.journal.locked():
            say("locked")
            while True:
                time.sleep(1)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
