"""The small exception hierarchy of Persona.

Every error a person can cause (bad audio, bad text, a missing model, a bad setting) is a
PersonaError with a message that names the bad value and says what to do about it. The CLI
prints the message and exits with status 2; the desktop app shows it in a dialog.
"""


class PersonaError(Exception):
    """Base class of every error Persona raises on purpose."""


class AudioError(PersonaError):
    """A recording or audio file cannot be used (empty, silent, unreadable, too long)."""


class TextError(PersonaError):
    """Text cannot be used (empty, not UTF-8, unsupported file type)."""


class ModelError(PersonaError):
    """A model cannot be found or loaded."""


class StoreError(PersonaError):
    """The memory store cannot be read or written."""


class SettingsError(PersonaError):
    """A settings or profile file is invalid."""


class DeviceError(PersonaError):
    """A microphone or speaker cannot be opened."""


class PrivacyError(PersonaError):
    """The privacy ledger or accountant refuses a run (budget, δ) or cannot be read."""


class BundleError(PersonaError):
    """A persona bundle cannot be written or read (passphrase, damage, version, base model)."""
