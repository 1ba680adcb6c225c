"""The photo pipeline: detect every face, crop it as FER2013 faces are framed, classify it."""

from functools import lru_cache

import numpy as np

from ..classes import CLASSES
from ..results import FaceEmotion
from .boxes import clip_box, left_to_right
from .classifier import EmotionClassifier, valence_arousal
from .detectors import make_detector
from .images import check_image

# FER2013's faces are square crops centred on the face. Measured on PublicTest faces upscaled to 192 px
# (docs/MODEL.md): Haar's box covers 0.97 of the FER frame, MTCNN's box is 0.80 of it wide and 1.06 tall,
# both centred. A square of the box's longer side, with no extra margin, reproduces that framing.
DEFAULT_FACE_MARGIN = 0.0


def crop_face(image, box, margin=DEFAULT_FACE_MARGIN):
    """A square around the face box, of its longer side grown by `margin` on each side, clipped to the image."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    square = (x + w / 2 - side / 2, y + h / 2 - side / 2, side, side)
    clipped = clip_box(square, image.shape[1], image.shape[0])
    if clipped is None:
        raise ValueError(f"face box {tuple(box)} lies outside the {image.shape[1]}x{image.shape[0]} image")
    x, y, w, h = clipped
    return image[y : y + h, x : x + w]


def face_emotions(boxes, scores, face_ids, detection_confidences):
    """One FaceEmotion per box from its (7,) class probabilities."""
    results = []
    points = valence_arousal(scores)
    for box, row, face_id, detection_confidence, (valence, arousal) in zip(
        boxes, scores, face_ids, detection_confidences, points
    ):
        best = int(np.argmax(row))
        results.append(
            FaceEmotion(
                box=tuple(int(v) for v in box),
                label=CLASSES[best],
                confidence=float(row[best]),
                scores={name: float(p) for name, p in zip(CLASSES, row)},
                face_id=face_id,
                detection_confidence=float(detection_confidence),
                valence=float(valence),
                arousal=float(arousal),
            )
        )
    return results


class PhotoPipeline:
    """Every face of one picture, independently of any other picture (no tracking, no smoothing).

    Faces are averaged with their mirror image by default: +1.7 points on PublicTest (docs/MODEL.md) for
    4 ms more per face, little beside a photo detector's 300 ms.
    """

    def __init__(self, detector="mtcnn", classifier=None, face_margin=DEFAULT_FACE_MARGIN, **detector_params):
        self.detector = make_detector(detector, **detector_params) if isinstance(detector, str) else detector
        self.classifier = classifier or EmotionClassifier(flip_tta=True)
        self.face_margin = face_margin

    def analyze(self, image_bgr):
        image = check_image(image_bgr)
        detections = left_to_right(self.detector(image))
        crops = [crop_face(image, d.box, self.face_margin) for d in detections]
        scores = self.classifier.predict(crops)
        face_ids = [f"face_{index}" for index in range(len(detections))]
        return face_emotions([d.box for d in detections], scores, face_ids, [d.confidence for d in detections])


@lru_cache(maxsize=None)
def _shared_pipeline(detector):
    return PhotoPipeline(detector)


def analyze_image(image_bgr, detector="mtcnn"):
    """Emotions of every face in a BGR (or gray) uint8 picture, left to right.

    The detector and the model are loaded once per detector name and reused by later calls.
    """
    return _shared_pipeline(detector).analyze(image_bgr)
