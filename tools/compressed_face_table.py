"""The photos' ensemble (four views) and the degraded-face model (the face and its mirror image; as it is, then
`deblocked`) reading faces as they are, and the photos' classifier as shipped, which smooths and routes them by
`jpeg_blockiness` and width, on PublicTest faces JPEG-compressed at a few widths and qualities, as a compressed
photo shows a face (docs/MODEL.md, "Compressed faces"). About 12 minutes on one core per quality.

    python tools/compressed_face_table.py [QUALITY ...]
"""

import sys

import cv2
import numpy as np

from emotion_ros.model.datasets import load_dataset
from emotion_ros.model.training import DEFAULT_VAL
from emotion_ros.vision.classifier import (COMPRESSED_BLOCKINESS, COMPRESSED_FACE_WIDTH, DEGRADED_FACE_MODEL_PATH,
                                          ENSEMBLE_MODEL_PATHS, FACE_SIZE, HARD_BLOCKINESS, EmotionClassifier,
                                          deblocked, face_input, jpeg_blockiness)

FACE_WIDTHS = (32, 48, 64, 72, 96)
QUALITIES = (20, 50, 80)


def compressed(faces, width, quality):
    """The faces resized to `width` px (shrunk by area, enlarged bilinearly) and JPEG-compressed at `quality`."""
    interpolation = cv2.INTER_AREA if width < FACE_SIZE else cv2.INTER_LINEAR
    return [cv2.imdecode(cv2.imencode(".jpg", cv2.resize(face, (width, width), interpolation=interpolation),
                                      [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
            for face in faces]


def main():
    faces, labels = load_dataset(DEFAULT_VAL)
    ensemble = EmotionClassifier(ENSEMBLE_MODEL_PATHS, flip_tta=True, zoom_tta=True)
    degraded = EmotionClassifier(DEGRADED_FACE_MODEL_PATH, flip_tta=True)
    shipped = EmotionClassifier.shipped(ensemble=True, flip_tta=True, zoom_tta=True)
    # Read as they are: a width of COMPRESSED_FACE_WIDTH neither smooths them nor routes them.
    readers = {
        "photos' ensemble": lambda crops, width: ensemble.predict(crops, [COMPRESSED_FACE_WIDTH] * len(crops)),
        "degraded-face model": lambda crops, width: degraded.predict(crops, [COMPRESSED_FACE_WIDTH] * len(crops)),
        "degraded-face model, smoothed": lambda crops, width: degraded.predict(
            [np.clip(deblocked(face_input(crop)), 0, 255).astype(np.uint8) for crop in crops],
            [COMPRESSED_FACE_WIDTH] * len(crops)),
        "photos' classifier": lambda crops, width: shipped.predict(crops, [width] * len(crops), crops),
    }
    found = f"faces found compressed (>= {COMPRESSED_BLOCKINESS}), hard (>= {HARD_BLOCKINESS})"
    print(f"| width, JPEG quality | {found} | " + " | ".join(readers) + " |")
    print("| ---: | ---: |" + " ---: |" * len(readers))
    for quality in [int(argument) for argument in sys.argv[1:]] or QUALITIES:
        for width in FACE_WIDTHS:
            crops = compressed(faces, width, quality)
            blockiness = np.array([jpeg_blockiness(crop) for crop in crops])
            shares = ", ".join(f"{100 * np.mean(blockiness >= limit):.0f} %"
                               for limit in (COMPRESSED_BLOCKINESS, HARD_BLOCKINESS))
            cells = []
            for read in readers.values():
                predicted = np.concatenate([read(crops[i : i + 256], width).argmax(axis=1)
                                            for i in range(0, len(crops), 256)])
                cells.append(f"{100 * np.mean(predicted == labels):.1f} %")
            print(f"| {width} px, {quality} | {shares} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
