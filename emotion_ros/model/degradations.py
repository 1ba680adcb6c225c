"""Faces as a webcam or a robot's camera gives them, for the robustness test and for training.

FER2013's faces are sharp, well-lit web photos; a camera's are often blurred, small, noisy, dark,
JPEG-compressed, not quite upright in the crop or partly hidden. `evaluate --robustness` measures the accuracy
lost to each of these on the same faces; training sees similar (random) degradations (`FaceAugmentation`'s
`camera` and `erasing`, and `jpeg_faces` here, since JPEG is not a tensor operation).
"""

import cv2
import numpy as np

from ..vision.classifier import FACE_SIZE

# What a patch erased in training holds (`FaceAugmentation`'s `erasing_fill`): random grey levels pixel by pixel,
# or one grey level for the whole patch.
ERASING_FILLS = ("noise", "flat")


def _blur(face, rng):
    return cv2.GaussianBlur(face, (0, 0), 1.5)


def _low_resolution(face, rng):
    small = cv2.resize(face, (16, 16), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR)


def _jpeg(face, rng):
    return cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_GRAYSCALE)


def _dark(face, rng):
    return (255 * (face / 255.0) ** 1.5 * 0.4).astype(np.uint8)


def _noise(face, rng):
    return np.clip(face + rng.normal(0, 15, face.shape), 0, 255).astype(np.uint8)


# How far "tilted" turns a face, either way.
TILT_DEGREES = 15


def turned(face, degrees, shift=(0, 0)):
    """The 48x48 face turned about its centre (degrees counterclockwise) and shifted by (x, y) px, edges mirrored."""
    matrix = cv2.getRotationMatrix2D(((FACE_SIZE - 1) / 2, (FACE_SIZE - 1) / 2), degrees, 1.0)
    matrix[:, 2] += shift
    return cv2.warpAffine(face, matrix, (FACE_SIZE, FACE_SIZE), borderMode=cv2.BORDER_REFLECT_101)


def _tilted(face, rng):
    return turned(face, TILT_DEGREES * rng.choice([-1, 1]), rng.choice([-3, 3], size=2))


# The side of the flat square that hides a quarter of the face in "occluded" (a hand, a cup, a microphone).
OCCLUDER_SIZE = FACE_SIZE // 2


def _occluded(face, rng):
    top, left = rng.integers(0, FACE_SIZE - OCCLUDER_SIZE + 1, size=2)
    face = face.copy()
    face[top : top + OCCLUDER_SIZE, left : left + OCCLUDER_SIZE] = face.mean()
    return face


# What each camera degradation does to a 48x48 face, in the robustness test's order.
CAMERA_DEGRADATIONS = {
    "blur": ("Gaussian blur, sigma 1.5 px", _blur),
    "low resolution": ("the face 16 px wide, enlarged back", _low_resolution),
    "jpeg": ("JPEG at quality 20", _jpeg),
    "dark": ("40 % of the light, gamma 1.5", _dark),
    "noise": ("Gaussian noise, sigma 15 grey levels", _noise),
    "tilted": ("turned 15 degrees and shifted 3 px", _tilted),
}
# The robustness test's rows: the camera degradations, then a face partly hidden.
ROBUSTNESS_ROWS = {
    **CAMERA_DEGRADATIONS,
    "occluded": ("a quarter hidden by a flat 24 px square", _occluded),
}


def degrade(faces, name, seed=0):
    """The (N, 48, 48) uint8 faces with one of ROBUSTNESS_ROWS applied; random parts drawn from `seed`."""
    rng = np.random.default_rng(seed)
    function = ROBUSTNESS_ROWS[name][1]
    return np.stack([function(face, rng) for face in faces])


def jpeg_faces(faces, fraction, seed=0):
    """A copy of the faces where `fraction` of them are JPEG-compressed at qualities 15-60: the artefacts of a
    streamed camera image, drawn once per training (the other augmentations vary on top of them)."""
    rng = np.random.default_rng(seed)
    faces = faces.copy()
    for index in np.flatnonzero(rng.random(len(faces)) < fraction):
        quality = int(rng.integers(15, 61))
        encoded = cv2.imencode(".jpg", faces[index], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        faces[index] = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return faces
