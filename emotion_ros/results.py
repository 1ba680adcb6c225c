"""The result for one face, shared by the photo pipeline, the stream pipeline, the CLI and the nodes."""

from dataclasses import asdict, dataclass


@dataclass
class FaceEmotion:
    box: tuple  # (x, y, w, h) in pixels of the source image
    label: str  # most probable class of emotion_ros.CLASSES
    confidence: float  # probability of `label`
    scores: dict  # class name -> probability, in CLASSES order, summing to 1
    face_id: str = ""
    detection_confidence: float = 1.0
    valence: float = 0.0
    arousal: float = 0.0

    def to_dict(self):
        return asdict(self)
