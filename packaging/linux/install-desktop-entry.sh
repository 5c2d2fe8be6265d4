#!/usr/bin/env bash
# Add Persona to your desktop's application menu (for you only; no root needed):
#   bash packaging/linux/install-desktop-entry.sh            # install
#   bash packaging/linux/install-desktop-entry.sh --remove   # remove
# It writes ~/.local/share/applications/persona.desktop and the icon under
# ~/.local/share/icons/hicolor, pointing at the persona-desktop of this checkout's .venv
# (or of $PERSONA_VENV). Installed from a wheel, the script sits in site-packages/persona/
# packaging/linux (run it with bash) and uses the persona-desktop found on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor/scalable/apps"

if [[ "${1:-}" == "--remove" ]]; then
  rm -f "$APPS/persona.desktop" "$ICONS/persona.svg"
  echo "Removed Persona from the application menu."
  exit 0
fi
EXEC="${PERSONA_VENV:-$ROOT/.venv}/bin/persona-desktop"
if [[ -z "${PERSONA_VENV:-}" && ! -x "$EXEC" ]] && command -v persona-desktop >/dev/null; then
  EXEC="$(command -v persona-desktop)"
fi
if [[ ! -x "$EXEC" ]]; then
  echo "error: $EXEC is missing; run 'bash scripts/setup.sh' first." >&2
  exit 1
fi
mkdir -p "$APPS" "$ICONS"
sed "s|@EXEC@|$EXEC|g" "$ROOT/packaging/linux/persona.desktop" > "$APPS/persona.desktop"
chmod 0644 "$APPS/persona.desktop"
cp "$ROOT/assets/icons/persona.svg" "$ICONS/persona.svg"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$APPS" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$DATA/icons/hicolor" || true
echo "Persona is in your application menu ($APPS/persona.desktop)."
