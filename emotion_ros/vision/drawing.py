"""Drawing faces and their emotions on a picture, for people looking at the results."""

import contextlib
import functools
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..classes import CLASSES

# One BGR colour per class, in CLASSES order: red, green, purple, yellow, blue, orange, gray.
CLASS_COLOURS = dict(zip(CLASSES, (
    (40, 40, 220), (40, 140, 40), (160, 40, 160), (0, 200, 255), (200, 120, 40), (0, 140, 255), (180, 180, 180),
)))
# DejaVu Sans (Debian's fonts-dejavu-core, installed by `make setup`) draws accents that OpenCV's Hershey fonts
# cannot; without it, Pillow's own font (no accents).
TEXT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_LABEL_PADDING = 3


@functools.lru_cache(maxsize=8)
def text_font(size):
    """Loaded once per size: labels and captions are redrawn on every frame."""
    if TEXT_FONT.is_file():
        return ImageFont.truetype(str(TEXT_FONT), size)
    return ImageFont.load_default(size)


@contextlib.contextmanager
def pil_drawing(canvas):
    """A PIL ImageDraw on a BGR canvas, written back into it on leaving: PIL draws the accents that OpenCV's
    Hershey fonts cannot."""
    picture = Image.fromarray(np.ascontiguousarray(canvas[:, :, ::-1]))
    yield ImageDraw.Draw(picture)
    canvas[:] = np.asarray(picture)[:, :, ::-1]


def _overlap(a, b):
    """Area shared by two (x0, y0, x1, y1) rectangles."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def place_label(box, size, image_size, obstacles):
    """Where a label of `size` (w, h) goes for a face `box`: above it, below it or inside its top, moved
    into the picture, the first place that covers none of `obstacles` (other faces' boxes and labels,
    as (x0, y0, x1, y1)), else the place that covers least of them. Returns (x0, y0, x1, y1)."""
    x, y, w, h = box
    (label_width, label_height), (width, height) = size, image_size
    places = []
    for top in (y - label_height, y + h, y):
        left = min(max(0, x), max(0, width - label_width))
        top = min(max(0, top), max(0, height - label_height))
        places.append((left, top, left + label_width, top + label_height))
    return min(places, key=lambda place: sum(_overlap(place, other) for other in obstacles))


def draw_faces(image_bgr, faces, names=None):
    """A copy of the picture with each face's box, label and confidence; `names` maps a class to the word
    shown for it (a prompt table's, in its language), by default the class name itself."""
    canvas = image_bgr.copy() if image_bgr.ndim == 3 else cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    height, width = canvas.shape[:2]
    scale = max(0.4, min(height, width) / 800)
    thickness = max(1, round(2 * scale))
    font = text_font(max(12, round(24 * scale)))
    obstacles = [(x, y, x + w, y + h) for x, y, w, h in (face.box for face in faces)]
    labels = []
    for face in faces:
        x, y, w, h = face.box
        colour = CLASS_COLOURS.get(face.label, (255, 255, 255))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
        text = f"{(names or {}).get(face.label, face.label)} {face.confidence:.0%}"
        x0, y0, x1, y1 = font.getbbox(text)
        size = (x1 + 2 * _LABEL_PADDING, y1 + 2 * _LABEL_PADDING)
        others = [box for box in obstacles if box != (x, y, x + w, y + h)] + [place for place, _, _ in labels]
        labels.append((place_label(face.box, size, (width, height), others), text, colour))
    if labels:
        with pil_drawing(canvas) as draw:
            for (left, top, right, bottom), text, colour in labels:
                draw.rectangle((left, top, right - 1, bottom - 1), fill=colour[::-1])
                draw.text((left + _LABEL_PADDING, top + _LABEL_PADDING), text, font=font, fill=(0, 0, 0))
    return canvas
