"""OpenCV's frontal-face Haar cascade: the detector that needs no model file and no TensorFlow.

The cascade ships with opencv-python. It misses turned faces and is slower than BlazeFace on a whole
frame (docs/DETECTORS.md); it stays as the fallback when BlazeFace's model files are not installed.
"""

import cv2

from .boxes import Detection, clip_box
from .images import check_image


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
