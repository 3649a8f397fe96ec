"""A run's predictions on the test set, as the run store saves them and the lessons analyse them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_CLASSES = 10


@dataclass(frozen=True)
class Predictions:
    """One run's predictions on the test set; position i is test image i."""

    labels: np.ndarray  # int64 [N], true digit
    predicted: np.ndarray  # int64 [N], the model's digit
    probs: np.ndarray  # float32 [N, 10], softmax probabilities

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels, dtype=np.int64)
        predicted = np.asarray(self.predicted, dtype=np.int64)
        probs = np.asarray(self.probs, dtype=np.float32)
        if labels.ndim != 1:
            raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
        n = labels.shape[0]
        if predicted.shape != (n,):
            raise ValueError(f"predicted must have shape ({n},), got {predicted.shape}")
        if probs.shape != (n, N_CLASSES):
            raise ValueError(f"probs must have shape ({n}, {N_CLASSES}), got {probs.shape}")
        for name, arr in (("labels", labels), ("predicted", predicted)):
            if n and (arr.min() < 0 or arr.max() >= N_CLASSES):
                raise ValueError(f"{name} must hold digits 0-9")
        # Frozen dataclass: store the normalised arrays without going through __setattr__.
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "predicted", predicted)
        object.__setattr__(self, "probs", probs)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def correct(self) -> np.ndarray:
        """Boolean [N]: True where the prediction is right."""
        return self.labels == self.predicted

    @property
    def confidence(self) -> np.ndarray:
        """float32 [N]: the probability the model gave to the digit it predicted."""
        return self.probs[np.arange(len(self)), self.predicted]
