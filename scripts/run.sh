#!/usr/bin/env bash
# Set up Persona, then run the main job: the desktop app where a display exists,
# otherwise the headless demo of the whole loop (`persona demo`). The demo runs in its own
# folder under the platform's cache folder, never in the person's data folder ($PERSONA_HOME
# or the user-data folder): its sample persona must not become the person's memories.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
PERSONA="${PERSONA_VENV:-$ROOT/.venv}/bin/persona"
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" || "$(uname -s)" == "Darwin" ]] \
   && "$PERSONA" app --check >/dev/null 2>&1; then
  exec "$PERSONA" app "$@"
fi
exec "$PERSONA" demo "$@"
