"""MTCNN for photos: small, turned and partly hidden faces, at the price of TensorFlow."""

import cv2

from .boxes import Detection, clip_box
from .images import check_image


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
            points = face["keypoints"]
            mouth = [(a + b) / 2 for a, b in zip(points["mouth_left"], points["mouth_right"])]
            keypoints = (points["left_eye"], points["right_eye"], points["nose"], mouth)
            detections.append(Detection(box, float(face["confidence"]), tuple(tuple(map(float, p)) for p in keypoints)))
        return detections
