"""Face detectors behind one interface, `detector(image_bgr) -> list[Detection]`, chosen by name.

BlazeFace (`blazeface` for photos, `blazeface_stream` for live video) is the default; MTCNN (TensorFlow,
loaded only when asked for) and Haar (no model file) remain as options. docs/DETECTORS.md compares them.
"""

import cv2

from .blazeface import BlazeFaceDetector, BlazeFaceStreamDetector
from .haar import HaarDetector
from .images import check_image
from .mtcnn import MtcnnDetector

DETECTORS = {
    detector.name: detector
    for detector in (BlazeFaceDetector, BlazeFaceStreamDetector, MtcnnDetector, HaarDetector)
}
# The detectors for a single picture (the others follow faces from frame to frame).
PHOTO_DETECTORS = ("blazeface", "mtcnn", "haar")

# Which of face_detection_node's parameters each detector takes.
DETECTOR_PARAMETERS = {
    "blazeface": ("min_face_size", "min_confidence"),
    "blazeface_stream": ("min_face_size", "min_confidence", "detect_every"),
    "mtcnn": ("min_face_size", "min_confidence"),
    "haar": ("min_face_size",),
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
    height, width = check_image(image).shape[:2]
    scale = 1.0
    if max_image_side and max(height, width) > max_image_side:
        scale = max_image_side / max(height, width)
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    detections = detector(image)
    if scale != 1.0:
        detections = [face for face in (d.scaled(1 / scale, width, height) for d in detections) if face]
    if max_faces is not None and len(detections) > max_faces:
        detections = sorted(detections, key=lambda d: d.box[2] * d.box[3], reverse=True)[:max_faces]
    return detections
