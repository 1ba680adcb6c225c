"""Measure face alignment end to end: PublicTest faces turned by a roll angle inside a 640x480 frame, found by
the photo detector, cropped with or without alignment, classified by the shipped model (no TTA).

    python tools/alignment_table.py ../shared/data/fer2013/fer2013_publictest.npz            # the table
    python tools/alignment_table.py ../shared/data/fer2013/fer2013_publictest.npz --template # FER_KEYPOINTS

Each 48x48 face is enlarged to FACE_SIDE pixels, its border repeated around it, turned, and put in the
middle of a gray frame. Accuracy counts the faces the detector found (the same faces for both crops).
"""

import argparse

import cv2
import numpy as np

from emotion_ros.model.datasets import load_dataset
from emotion_ros.vision.blazeface import BlazeFaceDetector
from emotion_ros.vision.classifier import EmotionClassifier
from emotion_ros.vision.pipeline import crop_face, face_crop

FRAME = (640, 480)
FACE_SIDE = 160
ROLLS = (0, -15, 15, -30, 30)


def face_in_frame(face, roll):
    """A 640x480 frame with `face` (48x48 gray) enlarged, turned by `roll` degrees, in its middle; the FER
    frame's corners in the frame's pixels."""
    side = FACE_SIDE
    enlarged = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = side // 2
    canvas = cv2.copyMakeBorder(enlarged, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    centre = (canvas.shape[1] / 2, canvas.shape[0] / 2)
    turned = cv2.warpAffine(canvas, cv2.getRotationMatrix2D(centre, roll, 1.0), canvas.shape[1::-1],
                            borderMode=cv2.BORDER_REPLICATE)
    width, height = FRAME
    frame = np.full((height, width), 110, np.uint8)
    top, left = (height - turned.shape[0]) // 2, (width - turned.shape[1]) // 2
    frame[top : top + turned.shape[0], left : left + turned.shape[1]] = turned
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def template(images, detector):
    """Medians of the eyes, nose and mouth of the faces found, in the FER frame (the unit square)."""
    points = []
    for face in images:
        frame = face_in_frame(face, 0)
        found = detector(frame)
        if found:
            best = max(found, key=lambda d: d.confidence)
            offset = np.array([(FRAME[0] - FACE_SIDE) / 2, (FRAME[1] - FACE_SIDE) / 2])
            points.append((np.array(best.keypoints[:4]) - offset) / FACE_SIDE)
    print(f"faces found: {len(points)}/{len(images)}")
    for name, (x, y) in zip(("first eye", "second eye", "nose tip", "mouth centre"), np.median(points, axis=0)):
        print(f"{name}: x {x:.3f}, y {y:.3f}")


def table(images, labels, detector, classifier):
    print("| roll | faces found | accuracy, box crop | accuracy, aligned crop |")
    print("| ---: | ---: | ---: | ---: |")
    for roll in ROLLS:
        box_crops, aligned_crops, found_labels = [], [], []
        for face, label in zip(images, labels):
            frame = face_in_frame(face, roll)
            found = detector(frame)
            if not found:
                continue
            middle = np.array(FRAME) / 2
            best = min(found, key=lambda d: np.hypot(*(np.array(d.box[:2]) + np.array(d.box[2:]) / 2 - middle)))
            box_crops.append(crop_face(frame, best.box))
            aligned_crops.append(face_crop(frame, best))
            found_labels.append(label)
        found_labels = np.array(found_labels)
        accuracy = [np.mean(np.argmax(classifier.predict(crops), axis=1) == found_labels) if len(crops) else 0.0
                    for crops in (box_crops, aligned_crops)]
        print(f"| {roll:+d}° | {len(found_labels)}/{len(images)} | {100 * accuracy[0]:.1f} % "
              f"| {100 * accuracy[1]:.1f} % |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="PublicTest .npz (images, labels)")
    parser.add_argument("--limit", type=int, help="only the first N faces")
    parser.add_argument("--template", action="store_true", help="print where the keypoints lie in the FER frame")
    args = parser.parse_args()
    images, labels = load_dataset(args.data)
    images, labels = images[: args.limit], labels[: args.limit]
    detector = BlazeFaceDetector(min_face_size=20)
    if args.template:
        template(images, detector)
    else:
        table(images, labels, detector, EmotionClassifier())


if __name__ == "__main__":
    main()
