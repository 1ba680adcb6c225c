"""Faces found by the photo detector in the sample group photos shrunk until their faces are about 40, 30
and 24 px wide, each in a 1920x1080 gray picture, for several `min_face_size` (docs/DETECTORS.md); and the
faces found in the sample photos at their own size, where a face more than they hold is a false positive.

    python tools/small_faces_table.py
"""

import time

import cv2
import numpy as np

from emotion_ros.apps.samples import sample_photos
from emotion_ros.vision.blazeface import BlazeFaceDetector

MIN_FACE_SIZES = (40, 30, 20)
FACE_WIDTHS = (40, 30, 24)


def main():
    detectors = {size: BlazeFaceDetector(min_face_size=size) for size in MIN_FACE_SIZES}
    photos = sample_photos()
    print("| photo | faces in it | " + " | ".join(f"`min_face_size` {size}" for size in MIN_FACE_SIZES) + " |")
    print("| --- | ---: |" + " ---: |" * len(MIN_FACE_SIZES))
    for index, path in enumerate(photos):
        image = cv2.imread(str(path))
        print(f"| {path.name} | {6 if index == 0 else 5 if index == 1 else 1} | "
              + " | ".join(str(len(detector(image))) for detector in detectors.values()) + " |")
    print()
    print("| group photo, faces shrunk to | faces | " + " | ".join(f"`min_face_size` {size}: found, ms"
                                                             for size in MIN_FACE_SIZES) + " |")
    print("| --- | ---: |" + " ---: |" * len(MIN_FACE_SIZES))
    for path, count in zip(photos[:2], (6, 5)):
        image = cv2.imread(str(path))
        width = np.median([face.box[2] for face in detectors[MIN_FACE_SIZES[-1]](image)])
        for target in FACE_WIDTHS:
            small = cv2.resize(image, None, fx=target / width, fy=target / width, interpolation=cv2.INTER_AREA)
            canvas = np.full((1080, 1920, 3), 128, np.uint8)
            canvas[300 : 300 + small.shape[0], 500 : 500 + small.shape[1]] = small
            cells = []
            for detector in detectors.values():
                started = time.perf_counter()
                found = detector(canvas)
                cells.append(f"{len(found)}, {(time.perf_counter() - started) * 1000:.0f}")
            print(f"| {path.name}, {target} px | {count} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
