"""The stream's model (four views, as the stream reads every face, and two), the degraded-face model (two, as the
photos read a small face) and the photos' ensemble (four views) on PublicTest faces shrunk to a few widths and
enlarged back, as the photo pipeline enlarges a small face's crop: which model and views read small faces better
(docs/MODEL.md). About 12 minutes on 2 cores.

    python tools/face_size_table.py
"""

import cv2
import numpy as np

from emotion_ros.model.datasets import load_dataset
from emotion_ros.model.training import DEFAULT_VAL
from emotion_ros.vision.classifier import (DEGRADED_FACE_MODEL_PATH, ENSEMBLE_MODEL_PATHS, FACE_SIZE, MODEL_PATH,
                                          EmotionClassifier)

FACE_WIDTHS = (16, 20, 24, 28, 32, 36, 40, 44, 48)


def shrunk(faces, width):
    """The faces sampled `width` px wide, then enlarged back to 48 px (bilinear, as `aligned_face` samples)."""
    if width == FACE_SIZE:
        return faces
    return np.stack([cv2.resize(cv2.resize(face, (width, width), interpolation=cv2.INTER_AREA),
                                (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR) for face in faces])


def balanced_accuracy(labels, predicted):
    return float(np.mean([np.mean(predicted[labels == k] == k) for k in np.unique(labels)]))


def main():
    faces, labels = load_dataset(DEFAULT_VAL)
    classifiers = {
        "stream's model, four views": EmotionClassifier(MODEL_PATH, flip_tta=True, zoom_tta=True),
        "stream's model, the face and its mirror": EmotionClassifier(MODEL_PATH, flip_tta=True),
        "degraded-face model, the face and its mirror": EmotionClassifier(DEGRADED_FACE_MODEL_PATH, flip_tta=True),
        "photos' ensemble, four views": EmotionClassifier(ENSEMBLE_MODEL_PATHS, flip_tta=True, zoom_tta=True),
    }
    print("| face width | " + " | ".join(f"{name}: accuracy, balanced accuracy" for name in classifiers) + " |")
    print("| ---: |" + " --- |" * len(classifiers))
    for width in FACE_WIDTHS:
        views = shrunk(faces, width)
        cells = []
        for classifier in classifiers.values():
            predicted = np.concatenate([classifier.predict(list(views[i : i + 256])).argmax(axis=1)
                                        for i in range(0, len(views), 256)])
            cells.append(f"{100 * np.mean(predicted == labels):.1f} %, {balanced_accuracy(labels, predicted):.3f}")
        print(f"| {width} px | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
