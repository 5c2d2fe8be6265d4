"""Preferences of one home: record a choice, retrain, report, and score candidates.

The reward model is retrained after every new choice (a few milliseconds of numpy, plus
embedding the new replies) and saved as ``preferences/reward.json`` with a fingerprint of
the choices file it was trained on, so a changed file (a forget) retrains it on next use.
It holds weights and counts only, no text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from persona.core.atomic import atomic_write_text
from persona.core.prefs import pairs as pairs_mod
from persona.core.prefs.features import PROJECTED, STYLE, Featurizer
from persona.core.prefs.reward import RewardModel, train
from persona.core.prefs.store import Choice, ChoiceLog
from persona.core.prefs.summary import Summary, summarize, write_style

log = logging.getLogger(__name__)
MODEL = "reward.json"


@dataclass
class Status:
    thumbs: int  # thumbs in force (up and down)
    pairs: int  # choices between two replies
    training_pairs: int  # pairs + the pairs made from thumbs
    heldout_correct: int
    heldout_total: int
    p_value: float
    beats_chance: bool
    summary: str
    style: str  # the words for the profile's reply style
    profile: str  # written / unchanged / yours / empty / not yet
    best_of_n_active: bool = False  # beats chance and the best_of_n setting is above 1

    @property
    def accuracy(self) -> float | None:
        return self.heldout_correct / self.heldout_total if self.heldout_total else None

    def to_dict(self) -> dict:
        acc = self.accuracy
        return {"thumbs": self.thumbs, "pairs": self.pairs,
                "training_pairs": self.training_pairs,
                "heldout": {"correct": self.heldout_correct, "total": self.heldout_total,
                            "accuracy": None if acc is None else round(acc, 3),
                            "p_value": round(self.p_value, 4)},
                "beats_chance": self.beats_chance, "best_of_n_active": self.best_of_n_active,
                "summary": self.summary, "reply_style": self.style,
                "profile_reply_style": self.profile}


class Preferences:
    """``encode``: the embedder's (``pipe.embedder.encode``); None trains on style only."""

    def __init__(self, root: Path, profile_path: Path | None = None,
                 encode: Callable[[Sequence[str]], np.ndarray] | None = None) -> None:
        self.root = Path(root)
        self.log = ChoiceLog(self.root)
        self.profile_path = profile_path or self.root / "profile.yaml"
        self.features = Featurizer(encode)
        self.encode = encode
        self._model: tuple[str, RewardModel | None, dict] | None = None

    @property
    def model_path(self) -> Path:
        return self.log.dir / MODEL

    # ------------------------------------------------------------------ recording
    def record(self, choice: Choice) -> Status:
        """Keep one choice and retrain on every choice so far."""
        self.log.append(choice)
        return self.retrain()

    # ------------------------------------------------------------------ training
    def retrain(self) -> Status:
        thumbs, explicit = self.log.current()
        pairs = pairs_mod.training_pairs(thumbs, explicit, self.encode)
        names = list(STYLE) + [f"vector{i}" for i in range(
            PROJECTED if self.encode is not None else 0)]
        model = None
        if pairs:
            model = train(self.features.rows([p.chosen for p in pairs]),
                          self.features.rows([p.rejected for p in pairs]),
                          [p.question or p.chosen for p in pairs], feature_names=names,
                          l2=self.features.penalties())
        info = {"thumbs": len(thumbs), "pairs": len(explicit), "training_pairs": len(pairs),
                "profile": "not yet"}
        summary = (summarize(model.fitted.weights, model.n_pairs, model.heldout.accuracy)
                   if model is not None else Summary("", "No choices yet."))
        info["summary"], info["style"] = summary.text, summary.style
        if model is not None and model.heldout.beats_chance:
            info["profile"] = write_style(self.profile_path, summary.style)
        data = {"fingerprint": self._fingerprint(), "info": info,
                "model": model.to_dict() if model is not None else None}
        if self.log.path.exists():  # no choices, no file
            atomic_write_text(self.model_path, json.dumps(data, indent=1))
            os.chmod(self.model_path, 0o600)
        self._model = (data["fingerprint"], model, info)
        return self._status(model, info)

    def _fingerprint(self) -> str:
        try:
            return hashlib.sha256(self.log.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return ""

    def _load(self) -> tuple[RewardModel | None, dict]:
        """The saved model if it was trained on the choices as they are now, else retrain."""
        fingerprint = self._fingerprint()
        if self._model is not None and self._model[0] == fingerprint:
            return self._model[1], self._model[2]
        try:
            data = json.loads(self.model_path.read_text(encoding="utf-8"))
            if data.get("fingerprint") == fingerprint:
                model = RewardModel.from_dict(data["model"]) if data.get("model") else None
                self._model = (fingerprint, model, data["info"])
                return model, data["info"]
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError) as exc:  # rebuilt from the choices below
            log.warning("retraining the reward model: %s is damaged (%s)", self.model_path, exc)
        self.retrain()
        return self._model[1], self._model[2]

    # ------------------------------------------------------------------ using
    def status(self) -> Status:
        return self._status(*self._load())

    def _status(self, model: RewardModel | None, info: dict) -> Status:
        h = model.heldout if model is not None else None
        return Status(info["thumbs"], info["pairs"], info["training_pairs"],
                      h.correct if h else 0, h.total if h else 0, h.p_value if h else 1.0,
                      bool(h and h.beats_chance), info["summary"], info["style"],
                      info["profile"])

    def scorer(self) -> Callable[[Sequence[str]], np.ndarray] | None:
        """Rewards of replies, or None while the model does not beat chance on held-out
        pairs (then best-of-N stays off)."""
        model, _ = self._load()
        if model is None or not model.heldout.beats_chance:
            return None
        if len(model.fitted.weights) != self.features.width:
            return None  # trained with(out) the embedder; retrained on the next choice
        return lambda texts: model.score(self.features.rows(texts))
