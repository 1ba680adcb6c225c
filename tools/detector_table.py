"""Faces found and time per photo of each photo detector on the sample photos (docs/DETECTORS.md).

    python tools/detector_table.py

Each detector runs once on a photo before it is timed (median of 5 runs).
"""

import time

import cv2
import numpy as np

from emotion_ros.apps.samples import SAMPLE_PHOTOS, sample_photos
from emotion_ros.vision.detectors import PHOTO_DETECTORS, make_detector


def main():
    detectors = {name: make_detector(name) for name in PHOTO_DETECTORS}
    print("| photo | size | " + " | ".join(f"{name}: faces, ms" for name in detectors) + " |")
    print("| --- | --- |" + " ---: |" * len(detectors))
    for path, (_, _, shows) in zip(sample_photos(), SAMPLE_PHOTOS):
        image = cv2.imread(str(path))
        cells = []
        for detector in detectors.values():
            found = detector(image)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                detector(image)
                times.append(time.perf_counter() - started)
            cells.append(f"{len(found)}, {np.median(times) * 1000:.0f}")
        print(f"| {path.name} ({shows}) | {image.shape[1]}x{image.shape[0]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
