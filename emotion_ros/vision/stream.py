"""The stream pipeline: faces of consecutive frames with stable ids and smoothed emotions, at camera speed.

How the default detector was chosen is in docs/DETECTORS.md.
"""

from dataclasses import replace

import numpy as np

from ..classes import CLASSES
from .classifier import EmotionClassifier
from .detectors import DETECTOR_PARAMETERS, make_detector
from .images import check_image
from .pipeline import DEFAULT_FACE_MARGIN, face_emotions, framed_face, predicted
from .smoothing import EmotionSmoother
from .tracking import FaceTracker
from .window_tracking import DEFAULT_DETECT_EVERY


def _stream_detector(detector, detect_every):
    if not isinstance(detector, str):
        return detector
    takes_detect_every = "detect_every" in DETECTOR_PARAMETERS.get(detector, ())
    return make_detector(detector, **({"detect_every": detect_every} if takes_detect_every else {}))


class StreamPipeline:
    """The faces of consecutive frames of one stream, with stable ids and smoothed emotions.

    Each face's label changes only when another class leads it by `switch_margin` after smoothing, so
    `label` is not always the class with the highest smoothed score; `confidence` is its smoothed score.
    `detect_every` applies to the default `blazeface_stream` detector; another detector runs on every frame.
    The default classifier sees each face four ways, as config/params.yaml has the stream do (docs/MODEL.md).
    """

    def __init__(self, detector="blazeface_stream", classifier=None, face_margin=DEFAULT_FACE_MARGIN,
                 detect_every=DEFAULT_DETECT_EVERY, time_constant=0.5, switch_margin=0.1,
                 max_missed_seconds=0.5, min_hits=1, align_faces=True):
        self.detector = _stream_detector(detector, detect_every)
        self.classifier = classifier or EmotionClassifier(flip_tta=True, zoom_tta=True)
        self.face_margin = face_margin
        self.align_faces = align_faces
        self.tracker = FaceTracker(max_missed_seconds=max_missed_seconds, min_hits=min_hits)
        self.smoother = EmotionSmoother(time_constant, switch_margin)

    def process(self, image_bgr, stamp_seconds):
        """FaceEmotions of the faces found in this frame, taken at `stamp_seconds`."""
        image = check_image(image_bgr)
        detections = self.detector(image)
        face_ids = self.tracker.update([d.box for d in detections], stamp_seconds)
        self.smoother.retain(self.tracker.face_ids)
        faces = [(d, face_id) for d, face_id in zip(detections, face_ids) if face_id]
        framed = [framed_face(image, d, self.face_margin, self.align_faces) for d, _ in faces]
        scores = predicted(self.classifier, framed)
        return smooth_faces(self.smoother, [d.box for d, _ in faces], scores, [face_id for _, face_id in faces],
                            [d.confidence for d, _ in faces], stamp_seconds)


def smooth_faces(smoother, boxes, scores, face_ids, detection_confidences, stamp_seconds):
    """FaceEmotions with each tracked face's probabilities smoothed and its label held by hysteresis."""
    smoothed = np.empty_like(scores)
    labels = []
    for index, (face_id, row) in enumerate(zip(face_ids, scores)):
        label, smoothed[index] = smoother.update(face_id, row, stamp_seconds)
        labels.append(CLASSES[label])
    results = face_emotions(boxes, smoothed, face_ids, detection_confidences)
    return [replace(face, label=label, confidence=face.scores[label]) for face, label in zip(results, labels)]
