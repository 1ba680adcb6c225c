"""OpenCV's Haar cascades: a detector for single images and a tracking one for live streams.

No model file and no TensorFlow: the cascades ship with opencv-python.

Why `haar_stream`: MTCNN takes 190-330 ms per 640x480 frame on a 2-core CPU, far from a camera's 30 fps.
Candidates, measured per frame on the 192 one-face frames of `emotion-ros bench` (2 cores, a model training in the
background, load average 3; taking turns frame by frame, so the numbers compare with each other):

| detector | mean ms | p50 ms | p95 ms | frames with one face |
| --- | ---: | ---: | ---: | ---: |
| Haar, whole 640x480 frame (`haar`) | 81.6 | 71.9 | 132.6 | 174/192 |
| Haar, frame scaled to 320 px wide | 33.3 | 30.1 | 51.4 | 180/192 |
| same, cascade `frontalface_alt2` | 35.6 | 32.2 | 60.2 | 189/192 |
| `haar_stream`, scan every 10 frames, default cascade | 7.9 | 3.9 | 33.7 | 180/192 |
| `haar_stream`, scan every 5 frames, alt2 | 10.8 | 3.7 | 51.8 | 187/192 |
| `haar_stream`, scan every 10 frames, alt2 (default) | 6.9 | 3.5 | 32.7 | 182/192 |
| `haar_stream`, scan every 15 frames, alt2 | 5.6 | 3.5 | 19.7 | 177/192 |

(MTCNN finds 192/192; the misses are a posed face turned three-quarters.) A downscaled frame alone
leaves no time to classify within 33 ms; searching near the last face between scans is 5x cheaper, and
misses a few frames of the turned face only. alt2 makes that search faster and finds more faces than the
default cascade. The whole pipeline (detect, classify, track, smooth) runs at 98 frames/s against 18.7
for `fer` (FER(mtcnn=False)) and 3.1 for the photo pipeline, in the same `emotion-ros bench` run.
Not usable: cv2.FaceDetectorYN needs an ONNX model that OpenCV does not ship, and MediaPipe 0.10.21
(which ships BlazeFace) requires numpy<2, protobuf<5 and opencv-contrib-python.
"""

import cv2

from .boxes import Detection, clip_box
from .images import check_image
from .tracking import face_distance

DEFAULT_DETECT_EVERY = 10
_STREAM_CASCADE = "haarcascade_frontalface_alt2.xml"


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


class HaarStreamDetector:
    """Haar on a downscaled frame every `detect_every` frames, and only around the known faces in between.

    A face found recently is searched for in a window around its last box (`roi_margin` of its size on
    every side), scaled so that the face is about `roi_face_size` pixels wide: a few small Haar windows
    instead of the whole frame. A face not found there is still searched for during `max_lost_frames`
    frames. The whole frame is scanned every `detect_every` frames for new faces, and at once when a
    known face is lost (it may have moved fast). The scan finds faces of at least `min_face_size` and
    24 px (the cascade's window) at `scan_width`: 48 px of a 640 px wide frame by default; a larger
    `scan_width` finds farther faces at a quadratic cost. Stateful: one instance per stream.
    """

    name = "haar_stream"

    def __init__(self, detect_every=DEFAULT_DETECT_EVERY, scan_width=320, min_face_size=30,
                 min_neighbors=5, roi_margin=0.5, roi_face_size=48, roi_min_neighbors=3, roi_size_change=1.3,
                 max_lost_frames=3, max_duplicate_distance=0.5):
        path = cv2.data.haarcascades + _STREAM_CASCADE
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"could not load the Haar cascade {path} (opencv-python 4.x ships it)")
        self.detect_every = max(1, int(detect_every))
        self.scan_width = scan_width
        self.min_face_size = min_face_size
        self.min_neighbors = min_neighbors
        self.roi_margin = roi_margin
        self.roi_face_size = roi_face_size
        self.roi_min_neighbors = roi_min_neighbors
        self.roi_size_change = roi_size_change
        self.max_lost_frames = max_lost_frames
        self.max_duplicate_distance = max_duplicate_distance
        self._faces = []  # (box, frames missed since it was last found)
        self._frames_since_scan = self.detect_every  # scan the first frame

    def __call__(self, image_bgr):
        image = check_image(image_bgr)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        found, lost = [], []
        for box, missed in self._faces:
            face = self._search_around(gray, box)
            if face and self._is_new(face, found):
                found.append(face)
            elif missed < self.max_lost_frames:
                lost.append((box, missed + 1))
        if self._frames_since_scan >= self.detect_every or any(missed == 1 for _, missed in lost):
            found += [box for box in self._scan(gray) if self._is_new(box, found)]
            lost = [(box, missed) for box, missed in lost if self._is_new(box, found)]
            self._frames_since_scan = 0
        self._frames_since_scan += 1
        self._faces = [(box, 0) for box in found] + lost
        return [Detection(box) for box in found]

    def _scan(self, gray):
        height, width = gray.shape
        scale = min(1.0, self.scan_width / width)
        small = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        min_side = round(self.min_face_size * scale)
        boxes = self._cascade.detectMultiScale(cv2.equalizeHist(small), scaleFactor=1.1,
                                               minNeighbors=self.min_neighbors, minSize=(min_side, min_side))
        return [box for box in (clip_box(b / scale, width, height) for b in boxes) if box]

    def _search_around(self, gray, box):
        """The face nearest to `box` in a window around it, or None."""
        height, width = gray.shape
        x, y, w, h = box
        grow = self.roi_margin
        window = clip_box((x - grow * w, y - grow * h, w * (1 + 2 * grow), h * (1 + 2 * grow)), width, height)
        if window is None:
            return None
        wx, wy, ww, wh = window
        scale = min(1.0, self.roi_face_size / w)
        size = (max(1, round(ww * scale)), max(1, round(wh * scale)))
        roi = cv2.resize(gray[wy : wy + wh, wx : wx + ww], size, interpolation=cv2.INTER_AREA)
        side = w * scale
        smallest, largest = round(side / self.roi_size_change), round(side * self.roi_size_change)
        boxes = self._cascade.detectMultiScale(cv2.equalizeHist(roi), scaleFactor=1.1,
                                               minNeighbors=self.roi_min_neighbors,
                                               minSize=(smallest, smallest), maxSize=(largest, largest))
        candidates = [(wx + bx / scale, wy + by / scale, bw / scale, bh / scale) for bx, by, bw, bh in boxes]
        if not candidates:
            return None
        return clip_box(min(candidates, key=lambda candidate: face_distance(box, candidate)), width, height)

    def _is_new(self, box, boxes):
        """Whether `box` is not one of `boxes` found again."""
        return all(face_distance(other, box) >= self.max_duplicate_distance for other in boxes)
