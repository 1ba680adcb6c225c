"""Drawing faces and their emotions on a picture, for people looking at the results."""

import cv2

from ..classes import CLASSES

# One BGR colour per class, in CLASSES order: red, green, purple, yellow, blue, orange, gray.
CLASS_COLOURS = dict(zip(CLASSES, (
    (40, 40, 220), (40, 140, 40), (160, 40, 160), (0, 200, 255), (200, 120, 40), (0, 140, 255), (180, 180, 180),
)))


def draw_faces(image_bgr, faces):
    """A copy of the picture with each face's box, label and confidence."""
    canvas = image_bgr.copy() if image_bgr.ndim == 3 else cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    scale = max(0.4, min(canvas.shape[:2]) / 800)
    thickness = max(1, round(2 * scale))
    for face in faces:
        x, y, w, h = face.box
        colour = CLASS_COLOURS.get(face.label, (255, 255, 255))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
        text = f"{face.label} {face.confidence:.0%}"
        (text_width, text_height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y - text_height - baseline - 4 if y - text_height - baseline - 4 >= 0 else y + h
        left = max(0, min(x, canvas.shape[1] - text_width - 4))  # the label stays inside the picture
        cv2.rectangle(canvas, (left, top), (left + text_width + 4, top + text_height + baseline + 4), colour, -1)
        cv2.putText(canvas, text, (left + 2, top + text_height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
    return canvas
