"""Face boxes as detectors give them: (x, y, w, h) in pixels, always inside the image."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    box: tuple  # (x, y, w, h) in pixels, inside the image
    confidence: float = 1.0
    # ((x, y), ...) in pixels, from detectors that find them: the two eyes first (the one on the image's left
    # first when the face is upright), then the detector's own points; empty from Haar.
    keypoints: tuple = ()

    def scaled(self, factor, width, height):
        """This face in the same image `factor` times as large, `width` x `height`; None when it falls outside."""
        box = clip_box([v * factor for v in self.box], width, height)
        if box is None:
            return None
        return Detection(box, self.confidence, tuple((x * factor, y * factor) for x, y in self.keypoints))


def clip_box(box, width, height):
    """Clip (x, y, w, h) to the image; None when nothing of it is left inside."""
    x, y, w, h = (int(round(v)) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def left_to_right(detections):
    """Faces in reading order, so that `face_<n>` ids of a photo are predictable."""
    return sorted(detections, key=lambda d: (d.box[0], d.box[1]))
