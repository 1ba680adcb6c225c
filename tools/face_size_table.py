"""The stream's model and the photos' ensemble (four views each) on PublicTest faces shrunk to a few widths and
enlarged back, as the photo pipeline enlarges a small face's crop: which model reads small faces better
(docs/MODEL.md). About 8 minutes on 2 cores.

    python tools/face_size_table.py
"""

import cv2
import numpy as np

from emotion_ros.model.datasets import load_dataset
from emotion_ros.model.training import DEFAULT_VAL
from emotion_ros.vision.classifier import ENSEMBLE_MODEL_PATHS, FACE_SIZE, MODEL_PATH, EmotionClassifier

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
    models = {"stream's model": MODEL_PATH, "photos' ensemble": ENSEMBLE_MODEL_PATHS}
    classifiers = {name: EmotionClassifier(path, flip_tta=True, zoom_tta=True) for name, path in models.items()}
    print("| face width | " + " | ".join(f"{name}: accuracy, balanced" for name in models) + " |")
    print("| ---: |" + " --- |" * len(models))
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
