"""The photo pipeline: detect every face, crop it as FER2013 faces are framed, classify it."""

import os
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from ..classes import CLASSES
from ..results import FaceEmotion
from .boxes import clip_box, left_to_right
from .classifier import FACE_SIZE, EmotionClassifier, valence_arousal
from .detectors import make_detector
from .images import check_image, read_photo

# FER2013's faces are square crops centred on the face. Measured on PublicTest faces upscaled to 192 px
# (docs/MODEL.md): Haar's box covers 0.97 of the FER frame, MTCNN's box is 0.80 of it wide and 1.06 tall,
# both centred. A square of the box's longer side, with no extra margin, reproduces that framing.
DEFAULT_FACE_MARGIN = 0.0
# Where the eyes (image-left first), nose tip and mouth centre of FER2013's faces lie in their frame (the unit
# square): medians of BlazeFace's keypoints on the first 1,000 PublicTest faces (894 found; `python
# tools/alignment_table.py <publictest.npz> --template --limit 1000`), made mirror-symmetric so that a
# flipped crop is framed like the crop.
FER_KEYPOINTS = np.array([0.322 + 0.393j, 0.678 + 0.393j, 0.50 + 0.593j, 0.50 + 0.755j])
# Aligned crops are sampled near the face's own size, at a whole multiple of the classifier's input (1 to 4
# times), so that shrinking them to it averages whole blocks of pixels (OpenCV's fast path).
_ALIGNED_SCALES = (1, 4)


def crop_face(image, box, margin=DEFAULT_FACE_MARGIN):
    """A square around the face box, of its longer side grown by `margin` on each side, clipped to the image."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    square = (x + w / 2 - side / 2, y + h / 2 - side / 2, side, side)
    clipped = clip_box(square, image.shape[1], image.shape[0])
    if clipped is None:
        raise ValueError(f"face box {tuple(box)} lies outside the {image.shape[1]}x{image.shape[0]} image")
    x, y, w, h = clipped
    return image[y : y + h, x : x + w]


def _fer_frame(keypoints, margin):
    """Where the FER frame, grown by `margin` on each side, lies in the image: (its side and direction as a
    complex number, its top-left corner), from the similarity transform (rotation, scale, shift) that best maps
    FER_KEYPOINTS onto the eyes, nose tip and mouth centre found (least squares)."""
    found = np.array([complex(x, y) for x, y in keypoints[: len(FER_KEYPOINTS)]])
    template = FER_KEYPOINTS - FER_KEYPOINTS.mean()
    scale_rotation = np.vdot(template, found - found.mean()) / np.vdot(template, template)
    origin = found.mean() - scale_rotation * (FER_KEYPOINTS.mean() + margin * (1 + 1j))
    return scale_rotation * (1 + 2 * margin), origin


def aligned_face(image, keypoints, margin=DEFAULT_FACE_MARGIN):
    """The face upright and framed as FER2013 frames its faces, from its eyes, nose tip and mouth centre,
    sampled upright from the frame `_fer_frame` finds. Pixels beyond the image repeat its border."""
    return _sampled_frame(image, *_fer_frame(keypoints, margin))


def _sampled_frame(image, frame_scale, origin):
    side = FACE_SIZE * int(np.clip(round(abs(frame_scale) / FACE_SIZE), *_ALIGNED_SCALES))
    step = frame_scale / side  # one output pixel, in the image
    to_image = np.array([[step.real, -step.imag, origin.real], [step.imag, step.real, origin.imag]])
    return cv2.warpAffine(image, to_image, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _alignable(detection, align):
    """Whether `align` is on and the detector found the eyes, nose and mouth (finite, not all in one place)."""
    points = np.array(detection.keypoints[: len(FER_KEYPOINTS)], dtype=float)
    return (align and len(points) == len(FER_KEYPOINTS) and np.isfinite(points).all()
            and np.ptp(points, axis=0).max() > 1)


def face_crop(image, detection, margin=DEFAULT_FACE_MARGIN, align=True):
    """What the classifier sees of one detected face: aligned when it can be (`_alignable`), else the square
    around its box."""
    return framed_face(image, detection, margin, align)[0]


class FramedFace(NamedTuple):
    """One detected face as the classifier takes it (`EmotionClassifier.predict`)."""

    crop: np.ndarray  # what the classifier sees (`face_crop`)
    width: float  # how many of the image's pixels wide the frame it sampled is: small faces are read as such
    unscaled: np.ndarray  # the square around its box, the image's own pixels, where JPEG's blocks still show


def framed_face(image, detection, margin=DEFAULT_FACE_MARGIN, align=True):
    """`face_crop`, its width in the image and its unscaled square (FramedFace): the classifier reads faces
    enlarged from few pixels or JPEG-compressed with its degraded-face model."""
    if _alignable(detection, align):
        frame_scale, origin = _fer_frame(detection.keypoints, margin)
        crop = _sampled_frame(image, frame_scale, origin)
        try:
            square = crop_face(image, detection.box, margin)
        except ValueError:  # a box beside the image, its keypoints in it: only the aligned crop shows the face
            square = crop
        return FramedFace(crop, float(abs(frame_scale)), square)
    square = crop_face(image, detection.box, margin)
    return FramedFace(square, float(max(detection.box[2], detection.box[3]) * (1 + 2 * margin)), square)


def predicted(classifier, framed):
    """The classifier's (N, 7) probabilities for a list of FramedFaces."""
    return classifier.predict([face.crop for face in framed], [face.width for face in framed],
                              [face.unscaled for face in framed])


def face_emotions(boxes, scores, face_ids, detection_confidences):
    """One FaceEmotion per box from its (7,) class probabilities."""
    results = []
    points = valence_arousal(scores)
    for box, row, face_id, detection_confidence, (valence, arousal) in zip(
        boxes, scores, face_ids, detection_confidences, points
    ):
        best = int(np.argmax(row))
        results.append(
            FaceEmotion(
                box=tuple(int(v) for v in box),
                label=CLASSES[best],
                confidence=float(row[best]),
                scores={name: float(p) for name, p in zip(CLASSES, row)},
                face_id=face_id,
                detection_confidence=float(detection_confidence),
                valence=float(valence),
                arousal=float(arousal),
            )
        )
    return results


class PhotoPipeline:
    """Every face of one picture, independently of any other picture (no tracking, no smoothing).

    By default each face is classified by the photos' ensemble of three models, each seeing four views of it
    (itself, its centre enlarged, and their mirror images): 71.2 % on PublicTest where the stream's model reaches
    70.2 % (docs/MODEL.md); a face under SMALL_FACE_WIDTH pixels wide, blurred, noisy or JPEG-compressed is
    left to the degraded-face model, trained on such faces.
    """

    def __init__(self, detector="blazeface", classifier=None, face_margin=DEFAULT_FACE_MARGIN, align_faces=True,
                 **detector_params):
        self.detector = make_detector(detector, **detector_params) if isinstance(detector, str) else detector
        self.classifier = classifier or EmotionClassifier.shipped(ensemble=True, flip_tta=True, zoom_tta=True)
        self.face_margin = face_margin
        self.align_faces = align_faces

    def analyze(self, image_bgr):
        image = check_image(image_bgr)
        detections = left_to_right(self.detector(image))
        framed = [framed_face(image, d, self.face_margin, self.align_faces) for d in detections]
        scores = predicted(self.classifier, framed)
        face_ids = [f"face_{index}" for index in range(len(detections))]
        return face_emotions([d.box for d in detections], scores, face_ids, [d.confidence for d in detections])


@lru_cache(maxsize=None)
def _shared_pipeline(detector):
    return PhotoPipeline(detector)


def analyze_image(image, detector="blazeface"):
    """Emotions of every face in a picture, left to right: a BGR (or gray) uint8 array, or a photo file's path,
    read as `emotion-ros analyze` reads it (`read_photo`: a file too large or not an image is a ValueError).

    The detector and the model are loaded once per detector name and reused by later calls.
    """
    if isinstance(image, (str, os.PathLike)):
        image = read_photo(image)
    return _shared_pipeline(detector).analyze(image)
