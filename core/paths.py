"""Where Persona keeps a person's data.

One folder, the *home*, holds the person's data: settings, profile, the memory database,
audio clips, adapters, the privacy ledger and logs. Model files are not in it: they live in
the per-user cache shared by every home (core/models/cache.py). The home defaults to the
platform's user-data folder and is overridden by ``--home DIR`` on every command or by
``PERSONA_HOME``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "persona"
# The `persona` package's folder: site-packages/persona in an installed wheel, the checkout
# itself in an editable install (setup.py maps persona.X to the checkout's X/). Package data
# is found from here, never from a source tree, which an installed wheel does not have.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = PACKAGE_ROOT / "assets"  # persona.assets: style, icons, the sample persona
PACKAGING_DIR = PACKAGE_ROOT / "packaging"  # persona.packaging: unit-file templates


def default_home() -> Path:
    env = os.environ.get("PERSONA_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Home:
    """The layout of one person's data folder."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        root = Path(home).expanduser() if home else default_home()
        return cls(root.resolve())

    def ensure(self) -> Home:
        """Create the home's folders, private (0700) whatever the umask."""
        for d in (self.root, self.audio_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self

    def tighten(self):
        """Make an existing home private (see ``persona.core.permissions.tighten``); what changed."""
        from persona.core.permissions import tighten

        return tighten(self.root)

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.yaml"

    @property
    def profile_file(self) -> Path:
        return self.root / "profile.yaml"

    @property
    def memory_dir(self) -> Path:
        return self.root / "memory.lancedb"

    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def adapters_dir(self) -> Path:
        return self.root / "adapters"

    @property
    def adapter_dir(self) -> Path:
        """The current LoRA adapter, if training has produced one."""
        return self.adapters_dir / "current"

    @property
    def privacy_dir(self) -> Path:
        """The privacy ledger (append-only; never deleted by Persona)."""
        return self.root / "privacy"

    @property
    def ledger_file(self) -> Path:
        """This home's privacy ledger, ``persona.privacy.ledger.Ledger(home.ledger_file)``."""
        return self.privacy_dir / "ledger.jsonl"
