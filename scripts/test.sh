#!/usr/bin/env bash
# Set up Persona, then run the linter and the whole test suite. The tests start their own
# PulseAudio null sink and offscreen Qt, so no display or sound card is needed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
VENV="${PERSONA_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/ruff" check .
# pytest exits 5 when it collected no tests: that is a failure here, as is any other non-zero.
# The slowest tests are listed at the end: the suite has 25 minutes on CI's 2 cores.
exec "$VENV/bin/python" -m pytest --durations=25 "$@"
