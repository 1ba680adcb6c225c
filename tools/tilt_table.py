"""Whether more views of each face, or turning a tilted crop back upright, would help the classifiers read
PublicTest's faces turned by 15 degrees (`evaluate --robustness`'s "tilted" row) when no landmarks are there to
align them (docs/MODEL.md, "Results"). About 15 minutes on 2 cores.

    python tools/tilt_table.py
"""

import numpy as np

from emotion_ros.classes import CLASSES
from emotion_ros.model.datasets import load_dataset
from emotion_ros.model.degradations import TILT_DEGREES, degrade, turned
from emotion_ros.model.training import DEFAULT_VAL
from emotion_ros.vision.classifier import EmotionClassifier


def turned_all(faces, degrees=0.0, shift=(0, 0)):
    """Every face `turned` alike."""
    return np.stack([turned(face, degrees, shift) for face in faces])


def turned_back(tilted, faces):
    """Each tilted face turned back by the angle it was turned by, known from its original: the best any estimate
    of the angle from the crop could do."""
    back = {degrees: turned_all(tilted, degrees) for degrees in (TILT_DEGREES, -TILT_DEGREES)}
    errors = {degrees: np.abs(view.astype(float) - faces).mean(axis=(1, 2)) for degrees, view in back.items()}
    closer = errors[TILT_DEGREES] <= errors[-TILT_DEGREES]
    return np.where(closer[:, None, None], back[TILT_DEGREES], back[-TILT_DEGREES])


# Turns and shifts of each whole crop, each of them then read the classifier's four ways.
VIEWS = {
    "the four views (shipped)": [{}],
    "and each turned 10° either way": [{}, {"degrees": 10}, {"degrees": -10}],
    "and each shifted 2 px four ways": [{}, *({"shift": shift} for shift in ((2, 0), (-2, 0), (0, 2), (0, -2)))],
}


def read(classifier, faces, labels, views):
    """Accuracy (%), balanced accuracy and fear recall of the probabilities averaged over the views."""
    scores = 0
    for view in views:
        moved = turned_all(faces, **view)
        scores = scores + np.concatenate([classifier.predict(moved[i : i + 256]) for i in range(0, len(moved), 256)])
    predicted = scores.argmax(axis=1)
    recall = np.array([(predicted[labels == label] == label).mean() for label in range(len(CLASSES))])
    return 100 * (predicted == labels).mean(), recall.mean(), recall[CLASSES.index("fear")]


def main():
    faces, labels = load_dataset(DEFAULT_VAL)
    tilted = degrade(faces, "tilted")
    print("| classifier | views of each face | accuracy, balanced accuracy, fear recall | tilted 15°: accuracy | lost "
          "(points) |")
    print("| --- | --- | --- | ---: | ---: |")
    for name, ensemble in (("stream's model", False), ("photos' classifier", True)):
        classifier = EmotionClassifier.shipped(ensemble=ensemble, flip_tta=True, zoom_tta=True)
        for views_name, views in VIEWS.items():
            accuracy, balanced, fear = read(classifier, faces, labels, views)
            tilted_accuracy = read(classifier, tilted, labels, views)[0]
            print(f"| {name} | {views_name} | {accuracy:.1f} %, {balanced:.3f}, {fear:.3f} | {tilted_accuracy:.1f} % "
                  f"| {accuracy - tilted_accuracy:.1f} |")
            if views == [{}]:
                shipped_accuracy = accuracy
        upright = read(classifier, turned_back(tilted, faces), labels, [{}])[0]
        print(f"| {name} | the four views, each tilted face turned back by its true angle | | {upright:.1f} % "
              f"| {shipped_accuracy - upright:.1f} |")


if __name__ == "__main__":
    main()
