"""A small rounded label with an utterance's emotion; the numbers behind it on hover."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

# A glyph per label, so the chip reads at a glance without relying on colour alone.
GLYPHS = {"neutral": "●", "happy": "☺", "sad": "☹", "angry": "⚡", "anxious": "≈",
          "calm": "~", "excited": "✦"}


def emotion_tooltip(label: str, valence: float, arousal: float, confidence: float,
                    method: str | None = None) -> str:
    how = f"<br>from {method}" if method else ""
    return (f"<b>{label}</b><br>valence {valence:+.2f} (−1 negative … +1 positive)"
            f"<br>arousal {arousal:.2f} (0 calm … 1 agitated)"
            f"<br>confidence {confidence:.0%}{how}")


class EmotionChip(QLabel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("emotionChip")
        self.label = ""
        self.hide()

    def set_emotion(self, label: str, valence: float, arousal: float, confidence: float,
                    method: str | None = None) -> None:
        self.label = label
        self.setText(f"{GLYPHS.get(label, '●')} {label}")
        tip = emotion_tooltip(label, valence, arousal, confidence, method)
        self.setToolTip(tip)
        self.setAccessibleName(f"Emotion: {label}")
        self.setAccessibleDescription(f"valence {valence:+.2f}, arousal {arousal:.2f}, "
                                      f"confidence {confidence:.0%}")
        self.show()
