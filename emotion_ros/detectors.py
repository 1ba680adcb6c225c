"""Face detectors behind one interface: `detector(image_bgr) -> list[Detection]`.

MTCNN finds small, turned and partly hidden faces in photos; Haar is fast and needs no TensorFlow.
"""

from dataclasses import dataclass

import cv2

from .images import check_image


@dataclass(frozen=True)
class Detection:
    box: tuple  # (x, y, w, h) in pixels, inside the image
    confidence: float = 1.0


def clip_box(box, width, height):
    """Clip (x, y, w, h) to the image; None when nothing of it is left inside."""
    x, y, w, h = (int(round(v)) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, shipped with opencv-python 4.x."""

    name = "haar"

    def __init__(self, scale_factor=1.1, min_neighbors=5, min_face_size=30):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"could not load the Haar cascade {path} (opencv-python 4.x ships it)")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face_size = min_face_size

    def __call__(self, image_bgr):
        image = check_image(image_bgr)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = self._cascade.detectMultiScale(
            cv2.equalizeHist(gray),
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size),
        )
        height, width = gray.shape
        clipped = (clip_box(box, width, height) for box in boxes)
        return [Detection(box) for box in clipped if box is not None]


class MtcnnDetector:
    """MTCNN from the `mtcnn` package (weights ship with it); imports TensorFlow on first use."""

    name = "mtcnn"

    def __init__(self, min_confidence=0.9, min_face_size=20):
        from mtcnn import MTCNN

        self._mtcnn = MTCNN(device="CPU:0")
        self.min_confidence = min_confidence
        self.min_face_size = min_face_size

    def __call__(self, image_bgr):
        image = check_image(image_bgr)
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        detections = []
        for face in self._mtcnn.detect_faces(rgb):
            box = clip_box(face["box"], width, height)
            if box is None or face["confidence"] < self.min_confidence:
                continue
            if min(box[2], box[3]) < self.min_face_size:
                continue
            detections.append(Detection(box, float(face["confidence"])))
        return detections


def left_to_right(detections):
    """Faces in reading order, so that `face_<n>` ids of a photo are predictable."""
    return sorted(detections, key=lambda d: (d.box[0], d.box[1]))


def _haar_stream(**params):
    from .stream import HaarStreamDetector  # imported when used: stream.py imports this module

    return HaarStreamDetector(**params)


DETECTORS = {"mtcnn": MtcnnDetector, "haar": HaarDetector, "haar_stream": _haar_stream}


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
