"""Face detectors behind one interface, `detector(image_bgr) -> list[Detection]`, chosen by name.

MTCNN finds small, turned and partly hidden faces in photos; Haar is fast and needs no TensorFlow.
"""

import cv2

from .boxes import Detection, clip_box
from .haar import HaarDetector, HaarStreamDetector
from .mtcnn import MtcnnDetector

DETECTORS = {"mtcnn": MtcnnDetector, "haar": HaarDetector, "haar_stream": HaarStreamDetector}


# Which of face_detection_node's parameters each detector takes.
DETECTOR_PARAMETERS = {
    "mtcnn": ("min_face_size", "min_confidence"),
    "haar": ("min_face_size",),
    "haar_stream": ("min_face_size", "detect_every"),
}


def make_detector(name, **params):
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}") from None
    return factory(**params)


def detector_from_params(params):
    """The detector that face_detection_node's parameters (a mapping) describe, with the ones it takes."""
    name = params["detector"]
    return make_detector(name, **{key: params[key] for key in DETECTOR_PARAMETERS.get(name, ())})


def detect_faces(detector, image, max_image_side=None, max_faces=None):
    """The `max_faces` largest faces `detector` finds in `image`, searched on a copy scaled down to
    `max_image_side` pixels (the longer side) when the image is larger, so that time and memory stay
    bounded whatever the camera sends; boxes are in `image`'s pixels."""
    height, width = image.shape[:2]
    scale = 1.0
    if max_image_side and max(height, width) > max_image_side:
        scale = max_image_side / max(height, width)
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    detections = detector(image)
    if scale != 1.0:
        boxes = (clip_box([v / scale for v in d.box], width, height) for d in detections)
        detections = [Detection(box, d.confidence) for box, d in zip(boxes, detections) if box]
    if max_faces is not None and len(detections) > max_faces:
        detections = sorted(detections, key=lambda d: d.box[2] * d.box[3], reverse=True)[:max_faces]
    return detections
