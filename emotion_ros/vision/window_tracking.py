"""Live-video detection at camera speed: scan the whole frame now and then, and between scans search each
known face only in a small window around where it was."""

from .boxes import clip_box
from .images import check_image
from .tracking import face_distance

DEFAULT_DETECT_EVERY = 10


class WindowTrackingDetector:
    """A whole-frame scan every `detect_every` frames, a search in a window around each known face in between.

    The window is the face's last box grown by `roi_margin` of its size on every side. A face not found
    there is still searched for during `max_lost_frames` frames; the whole frame is scanned at once when a
    known face is lost (it may have moved fast). Subclasses give `_scan(image)` and `_search_window(image,
    window, box)`, both returning Detections in the image's pixels. Stateful: one instance per stream.
    """

    def __init__(self, detect_every=DEFAULT_DETECT_EVERY, roi_margin=0.5, max_lost_frames=3,
                 max_duplicate_distance=0.5):
        self.detect_every = max(1, int(detect_every))
        self.roi_margin = roi_margin
        self.max_lost_frames = max_lost_frames
        self.max_duplicate_distance = max_duplicate_distance
        self._faces = []  # (detection, frames missed since it was last found)
        self._frames_since_scan = self.detect_every  # scan the first frame

    def __call__(self, image_bgr):
        image = check_image(image_bgr)
        found, lost = [], []
        for face, missed in self._faces:
            again = self._search_around(image, face.box)
            if again and self._is_new(again, found):
                found.append(again)
            elif missed < self.max_lost_frames:
                lost.append((face, missed + 1))
        if self._frames_since_scan >= self.detect_every or any(missed == 1 for _, missed in lost):
            found += [face for face in self._scan(image) if self._is_new(face, found)]
            lost = [(face, missed) for face, missed in lost if self._is_new(face, found)]
            self._frames_since_scan = 0
        self._frames_since_scan += 1
        self._faces = [(face, 0) for face in found] + lost
        return found

    def _search_around(self, image, box):
        """The face nearest to `box` in a window around it, or None."""
        height, width = image.shape[:2]
        x, y, w, h = box
        grow = self.roi_margin
        window = clip_box((x - grow * w, y - grow * h, w * (1 + 2 * grow), h * (1 + 2 * grow)), width, height)
        candidates = self._search_window(image, window, box) if window else []
        return min(candidates, key=lambda face: face_distance(box, face.box), default=None)

    def _is_new(self, face, faces):
        """Whether `face` is not one of `faces` found again."""
        return all(face_distance(other.box, face.box) >= self.max_duplicate_distance for other in faces)

    def _scan(self, image):
        raise NotImplementedError

    def _search_window(self, image, window, box):
        raise NotImplementedError
