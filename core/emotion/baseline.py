"""How a person usually sounds, so that "loud" and "high" mean loud and high *for them*.

Without any history the norms are population averages for adult conversational speech. As
the pipeline feeds a person's utterances to ``SpeakerBaseline.update``, their own running
mean and spread take over: the population norms act as ``prior_weight`` pseudo-utterances,
so a handful of recordings already moves the baseline and a few dozen dominate it.
The baseline is a plain dataclass that round-trips through ``to_dict``/``from_dict`` (JSON
or YAML), so the pipeline can keep it next to the person's profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from persona.core.emotion.prosody import ProsodyFeatures
from persona.core.errors import SettingsError

# Feature name -> (population mean, population std). Pitch level is in semitones above 100 Hz
# so that one number covers low and high voices (0 st = 100 Hz, 12 st = 200 Hz).
POPULATION_NORMS: dict[str, tuple[float, float]] = {
    "pitch_st": (8.0, 5.0),  # adult men ~3 st (120 Hz), women ~13 st (210 Hz)
    "pitch_st_std": (2.5, 1.0),  # conversational F0 spread, semitones
    "energy_dbfs": (-26.0, 6.0),  # mostly microphone gain, hence the wide spread
    "energy_db_std": (7.0, 2.0),
    "speaking_rate": (2.7, 0.6),  # words/s (~160 words per minute)
}
FEATURES = tuple(POPULATION_NORMS)
MIN_VOICED_S = 0.3  # utterances with less voiced speech than this do not update the baseline


def feature_values(f: ProsodyFeatures) -> dict[str, float | None]:
    """The baseline's view of a ``ProsodyFeatures``: one float (or None) per feature name."""
    pitch_st = 12.0 * math.log2(f.pitch_hz / 100.0) if f.pitch_hz else None
    return {
        "pitch_st": pitch_st,
        "pitch_st_std": f.pitch_st_std,
        "energy_dbfs": f.energy_dbfs,
        "energy_db_std": f.energy_db_std,
        "speaking_rate": f.speaking_rate,
    }


@dataclass
class RunningStat:
    """Welford's running mean and sum of squared deviations of one feature."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    @property
    def var(self) -> float:
        return self.m2 / self.n if self.n else 0.0


@dataclass
class SpeakerBaseline:
    """Running per-speaker norms of the prosody features, shrunk towards population norms."""

    stats: dict[str, RunningStat] = field(
        default_factory=lambda: {k: RunningStat() for k in FEATURES})
    prior_weight: float = 5.0  # how many utterances the population norms count for

    @property
    def count(self) -> int:
        """Utterances that have updated the baseline (the most-measured feature's count)."""
        return max((s.n for s in self.stats.values()), default=0)

    def update(self, features: ProsodyFeatures) -> bool:
        """Fold one utterance into the baseline; False (no change) if it had too little voice."""
        if features.voiced_s < MIN_VOICED_S:
            return False
        for name, value in feature_values(features).items():
            if value is not None and math.isfinite(value):
                self.stats.setdefault(name, RunningStat()).add(value)
        return True

    def norm(self, name: str) -> tuple[float, float]:
        """(mean, std) of a feature: the person's own, blended with the population prior."""
        mu0, sd0 = POPULATION_NORMS[name]
        s = self.stats.get(name) or RunningStat()
        w = self.prior_weight + s.n
        mean = (self.prior_weight * mu0 + s.n * s.mean) / w
        var = (self.prior_weight * sd0 * sd0 + s.n * s.var) / w
        # Never let a very steady speaker make every tiny wobble look dramatic.
        return mean, max(math.sqrt(var), 0.25 * sd0)

    def z_scores(self, features: ProsodyFeatures) -> dict[str, float | None]:
        """How many of this person's standard deviations each feature is above their usual."""
        out: dict[str, float | None] = {}
        for name, value in feature_values(features).items():
            if value is None or not math.isfinite(value):
                out[name] = None
                continue
            mean, sd = self.norm(name)
            out[name] = (value - mean) / sd
        return out

    def to_dict(self) -> dict:
        """A JSON/YAML-safe dict; ``from_dict`` restores it exactly."""
        return {"prior_weight": self.prior_weight,
                "stats": {k: {"n": s.n, "mean": s.mean, "m2": s.m2}
                          for k, s in self.stats.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> SpeakerBaseline:
        """Rebuild a baseline saved with ``to_dict``; unknown features are ignored."""
        try:
            stats = {k: RunningStat(int(v["n"]), float(v["mean"]), float(v["m2"]))
                     for k, v in data.get("stats", {}).items() if k in POPULATION_NORMS}
            prior = float(data.get("prior_weight", 5.0))
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise SettingsError(f"the saved speaker baseline is malformed ({e!r}): {data!r}; "
                                "delete it and the baseline will be rebuilt from new "
                                "recordings.") from e
        if prior <= 0:
            raise SettingsError(f"speaker baseline prior_weight must be > 0, got {prior}; "
                                "delete the saved baseline to reset it.")
        base = cls(prior_weight=prior)
        base.stats.update(stats)
        return base
