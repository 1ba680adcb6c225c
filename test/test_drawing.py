"""Face labels on pictures: always inside the picture, off the other faces, in the prompt table's words."""

import numpy as np

from emotion_ros.classes import CLASSES
from emotion_ros.results import FaceEmotion
from emotion_ros.social.prompts import load_prompts
from emotion_ros.vision.drawing import CLASS_COLOURS, draw_faces, place_label

GRAY = 110


def face(box, label="happy"):
    return FaceEmotion(box=box, label=label, confidence=0.8, scores={name: 0.8 if name == label else 0.2 / 6
                                                                      for name in CLASSES})


def label_pixels(canvas, label):
    """Mask of the pixels painted in `label`'s colour (its box outline and its label background)."""
    return np.all(canvas == CLASS_COLOURS[label], axis=2)


def test_a_face_touching_the_top_edge_keeps_its_label_inside_the_picture():
    portrait = np.full((112, 112, 3), GRAY, np.uint8)
    canvas = draw_faces(portrait, [face((0, 0, 112, 112))])
    rows = np.nonzero(label_pixels(canvas, "happy").sum(axis=1) > 20)[0]  # the label's filled background
    assert len(rows) > 8 and rows.min() == 0 and rows.max() < 112


def test_labels_stay_off_neighbouring_faces_and_each_other():
    image = np.full((400, 600, 3), GRAY, np.uint8)
    faces = [face((100, 20, 120, 120), "happy"), face((100, 150, 120, 120), "sad"), face((230, 20, 120, 120), "angry")]
    canvas = draw_faces(image, faces)
    for current in faces:
        others = [(x, y, x + w, y + h) for x, y, w, h in (other.box for other in faces if other is not current)]
        left, top, right, bottom = place_label(current.box, (90, 20), (600, 400), others)
        for x0, y0, x1, y1 in others:
            assert right <= x0 or left >= x1 or bottom <= y0 or top >= y1
    sad = label_pixels(canvas, "sad")
    assert not sad[:148, 100:220].any()  # not above the sad face: the happy face is there
    assert sad[272:, 100:220].sum() > 200  # below it


def test_labels_use_the_prompt_tables_words():
    image = np.full((300, 300, 3), GRAY, np.uint8)
    faces = [face((60, 100, 150, 150), "angry")]
    english = draw_faces(image, faces, load_prompts("en").names)
    french = draw_faces(image, faces, load_prompts("fr").names)
    assert load_prompts("fr").names["angry"] == "colère"
    assert np.array_equal(english, draw_faces(image, faces))
    assert not np.array_equal(english, french)
