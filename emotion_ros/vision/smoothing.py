"""Per-face temporal smoothing of class probabilities, so that a live label does not flicker.

A frame-by-frame classifier jumps between close classes (neutral/sad, fear/surprise) on a steady face.
An exponential moving average with a time constant in seconds smooths the same at 10 or 60 fps, and
hysteresis keeps the published label until another class leads it by a clear margin. Photos are
single frames and are not smoothed.
"""

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass
class _FaceState:
    scores: np.ndarray  # smoothed (7,) probabilities
    label: int  # index of the published class
    stamp: float  # seconds of the last update


class EmotionSmoother:
    """Exponential moving average of each face's probabilities plus a label with hysteresis.

    `time_constant`: seconds after which an old observation weighs 1/e (0 disables the averaging).
    `switch_margin`: how much the smoothed probability of another class must exceed the published
    label's before the label changes. At most `max_faces` faces are remembered, the least recently updated
    forgotten first, whatever face ids and stamps a publisher sends.
    """

    def __init__(self, time_constant=0.5, switch_margin=0.1, max_faces=256):
        if time_constant < 0 or switch_margin < 0:
            raise ValueError("time_constant and switch_margin must be >= 0")
        self.time_constant = time_constant
        self.switch_margin = switch_margin
        self.max_faces = max_faces
        self._faces = OrderedDict()

    def update(self, face_id, scores, stamp):
        """(label index, smoothed probabilities) of `face_id` after this frame's `scores`."""
        scores = np.asarray(scores, dtype=np.float32)
        state = self._faces.get(face_id)
        if state is None or stamp < state.stamp:  # a new face, or the clock went back (a bag replayed)
            state = _FaceState(scores.copy(), int(np.argmax(scores)), stamp)
            self._faces[face_id] = state
            self._faces.move_to_end(face_id)
            while len(self._faces) > self.max_faces:
                self._faces.popitem(last=False)
            return state.label, state.scores.copy()
        self._faces.move_to_end(face_id)
        elapsed = stamp - state.stamp
        weight = 1.0 if self.time_constant == 0 else 1.0 - math.exp(-elapsed / self.time_constant)
        state.scores += weight * (scores - state.scores)
        state.stamp = stamp
        best = int(np.argmax(state.scores))
        if state.scores[best] > state.scores[state.label] + self.switch_margin:
            state.label = best
        return state.label, state.scores.copy()

    def forget_stale(self, stamp, max_age):
        """Forget faces not updated for `max_age` seconds, when the tracker's ids are not at hand."""
        self._faces = OrderedDict((face_id, state) for face_id, state in self._faces.items()
                                  if stamp - state.stamp <= max_age)

    def retain(self, face_ids):
        """Forget every face not in `face_ids` (their tracks ended)."""
        self._faces = OrderedDict((face_id, state) for face_id, state in self._faces.items() if face_id in face_ids)

    def __len__(self):
        return len(self._faces)
