"""Face detectors behind one interface, `detector(image_bgr) -> list[Detection]`, chosen by name.

MTCNN finds small, turned and partly hidden faces in photos; Haar is fast and needs no TensorFlow.
"""

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
