"""The emotion classifier: the shipped CNN run by LiteRT, so inference needs no TensorFlow."""

from pathlib import Path

import cv2
import numpy as np

from ..classes import CIRCUMPLEX, CLASSES
from ..paths import PACKAGE_DIR
from .images import check_image
from .litert import litert_interpreter

MODEL_PATH = PACKAGE_DIR / "weights" / "emotion_cnn.tflite"
# The photos' ensemble, whose probabilities are averaged: three checkpoints of the training (epochs 57, 74 and
# 82), each also a good model alone; the stream's model is distilled from such an ensemble (docs/MODEL.md).
ENSEMBLE_MODEL_PATHS = tuple(PACKAGE_DIR / "weights" / f"emotion_cnn_epoch{epoch}.tflite" for epoch in (57, 74, 82))
# The photos' model for the faces a camera degraded (`camera_degraded`, SMALL_FACE_WIDTH, COMPRESSED_BLOCKINESS):
# the stream's model averaged with its fine-tune on faces blurred, shrunk, noisy, darkened and JPEG-compressed
# (docs/MODEL.md).
DEGRADED_FACE_MODEL_PATH = PACKAGE_DIR / "weights" / "emotion_cnn_degraded.tflite"
# The model's input side: FER2013's faces are 48x48 gray, and every crop is resized to it.
FACE_SIZE = 48
# Faces the image shows narrower than this (in its pixels) are enlarged to FACE_SIZE, and read better by the
# degraded-face model, trained on faces blurred and shrunk as cameras give them, than by the photos' ensemble: on
# PublicTest faces shrunk and enlarged back, 61.2 against 49.9 % at 20 px, 65.0 against 60.4 % at 24 px, within a
# point at 36-44 px, behind only at 48 (`python tools/face_size_table.py`, docs/MODEL.md).
SMALL_FACE_WIDTH = 40
# A blurred face has lost its finest detail: its Laplacian is no more than this many times that of the face blurred
# further (sigma 1.5 px). FER2013's Training faces: 3.99 at their 1st percentile, the sample photos' faces 4.07-5.47;
# PublicTest's faces blurred (sigma 1.5) or 16 px wide: 1.93 and 2.19 at their 95th percentile (docs/MODEL.md,
# "Degraded faces").
BLURRED_SHARPNESS = 3.0
# A noisy face has more pixel-to-pixel detail, against its contrast, than this: 0.82 at the Training faces' 99th
# percentile, 0.46 at most in the sample photos, 0.96 at the 5th percentile of PublicTest with noise of sigma 15.
NOISY_DETAIL = 0.9
_SECOND_DIFFERENCES = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)  # blind to edges and ramps
# JPEG-compressed faces (`jpeg_blockiness`): at COMPRESSED_BLOCKINESS about quality 80 or lower on a face 48 px
# wide, at HARD_BLOCKINESS about quality 50 or lower; FER2013's faces, compressed lightly once, measure 0.33 at their
# 99.9th percentile. A face up to UNSHRUNK_FACE_WIDTH wide in its image reaches the model with its blocks whole: the
# photos read it with the degraded-face model from COMPRESSED_BLOCKINESS, and every classifier smooths it
# (`deblocked`) from HARD_BLOCKINESS. Wider, shrinking evens the blocks out: the photos' ensemble reads such faces
# better, unless compressed hard and narrower than COMPRESSED_FACE_WIDTH (PublicTest, `python
# tools/compressed_face_table.py`, docs/MODEL.md, "Compressed faces").
COMPRESSED_BLOCKINESS = 0.42
HARD_BLOCKINESS = 0.55
UNSHRUNK_FACE_WIDTH = 56
COMPRESSED_FACE_WIDTH = 72
_DCT8 = np.cos(np.pi * (2 * np.arange(8)[None, :] + 1) * np.arange(8)[:, None] / 16) * np.sqrt(2 / 8)
_DCT8[0] /= np.sqrt(2)  # orthonormal: a coefficient JPEG dropped decodes to within about a grey level of 0
_DCT8X8 = np.kron(_DCT8, _DCT8).astype(np.float32)  # the 2-D DCT of an 8x8 block flattened row by row
# An under-exposed face: its mean grey is under this, as 1.3 % of FER2013's Training faces are and most faces a
# camera gives in dim light. It is brightened by a gain, as a camera's exposure would, until its brightest 1 % reach
# EXPOSED_TOP: PublicTest's faces at 40 % of the light and gamma 1.5 are then read within about a point of the faces
# themselves (docs/MODEL.md, "Dark faces").
DARK_FACE_MEAN = 55.0
EXPOSED_TOP = 220.0
# The zoomed view of `zoom_tta`: of 0.8, 0.85, 0.9 and 0.95 of the face, measured with the flip on PublicTest
# (docs/MODEL.md), 0.85 gave the most accuracy.
ZOOM_TTA_FRACTION = 0.85
_CIRCUMPLEX_POINTS = np.array([CIRCUMPLEX[name] for name in CLASSES], dtype=np.float32)
# Faces of each class among FER2013's 28,709 Training faces: the prior the networks learnt, which `class_balance`
# divides out. Happy is 16 times as common as disgust there; a person posing for a camera shows each alike.
TRAINING_FACES_PER_CLASS = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830, "surprise": 3171,
                            "neutral": 4965}
_TRAINING_PRIOR = np.array([TRAINING_FACES_PER_CLASS[name] for name in CLASSES], dtype=np.float32)
_TRAINING_PRIOR /= _TRAINING_PRIOR.sum()


def _gray(face):
    face = check_image(face)
    return face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)


def face_input(face):
    """A 48x48 gray float32 face as the model takes it (0-255; the model rescales inside)."""
    gray = _gray(face)
    interpolation = cv2.INTER_AREA if min(gray.shape) >= FACE_SIZE else cv2.INTER_LINEAR
    return cv2.resize(gray, (FACE_SIZE, FACE_SIZE), interpolation=interpolation).astype(np.float32)


def exposed(face):
    """The 48x48 float32 face, brightened if under-exposed (DARK_FACE_MEAN): FER2013's faces are web photos, rarely
    dark, and the networks read a dark face less well than the same face brightened."""
    if face.mean() >= DARK_FACE_MEAN:
        return face
    gain = EXPOSED_TOP / max(float(np.percentile(face, 99)), 1.0)
    return np.minimum(face * gain, 255.0).astype(np.float32) if gain > 1 else face


def jpeg_blockiness(face):
    """How clearly a face, as its image's own pixels show it, carries the marks of hard JPEG compression: JPEG
    drops the fine detail of each 8x8 block of its grid, so at the grid's position (one of 64) more of the blocks'
    detail coefficients are zero than elsewhere. The fraction of zero ones where it is highest, less its median over
    the 64 positions: about 0.24 for FER2013's faces, 0.65 at quality 20, 0.03 for a face blurred or resampled."""
    gray = _gray(face).astype(np.float32)
    if min(gray.shape) < 16:  # too few blocks at some positions
        return 0.0
    windows = np.lib.stride_tricks.sliding_window_view(gray, (8, 8))  # the 8x8 block at every position
    rows, columns = windows.shape[:2]
    # OpenCV's product: NumPy's BLAS would share this small one among threads, several times slower under load
    detail = cv2.gemm(np.ascontiguousarray(windows.reshape(-1, 64)), _DCT8X8, 1.0, None, 0.0, flags=cv2.GEMM_2_T)
    zeros = np.full((-(-rows // 8) * 8, -(-columns // 8) * 8), np.nan, np.float32)  # whole 8x8 tiles of positions
    zeros[:rows, :columns] = (np.abs(detail[:, 1:]) < 1.0).mean(axis=1).reshape(rows, columns)
    zero_fractions = np.nanmean(zeros.reshape(len(zeros) // 8, 8, -1, 8), axis=(0, 2))  # per grid position
    return float(zero_fractions.max() - np.median(zero_fractions))


def deblocked(face):
    """The 48x48 float32 face smoothed where neighbouring grey levels differ little (a bilateral filter), which
    evens out JPEG's block edges and keeps the face's own edges."""
    return cv2.bilateralFilter(face, 5, 15, 2)


def central_zoom(face):
    """The central ZOOM_TTA_FRACTION of a 48x48 face, enlarged back to 48x48."""
    side = round(FACE_SIZE * ZOOM_TTA_FRACTION)
    start = (FACE_SIZE - side) // 2
    return cv2.resize(face[start : start + side, start : start + side], (FACE_SIZE, FACE_SIZE),
                      interpolation=cv2.INTER_LINEAR)


def camera_degraded(faces):
    """Which of the (N, 48, 48) faces look blurred, enlarged from few pixels or noisy, as FER2013's faces do not:
    the stream's camera-trained model reads them better than the photos' ensemble (BLURRED_SHARPNESS,
    NOISY_DETAIL)."""
    degraded = np.zeros(len(faces), dtype=bool)
    inner = (slice(2, -2), slice(2, -2))  # away from the filters' borders
    for index, face in enumerate(np.asarray(faces, dtype=np.float32)):
        fine = np.abs(cv2.Laplacian(face, cv2.CV_32F, ksize=1)[inner]).mean()
        coarse = np.abs(cv2.Laplacian(cv2.GaussianBlur(face, (0, 0), 1.5), cv2.CV_32F, ksize=1)[inner]).mean()
        detail = np.abs(cv2.filter2D(face, -1, _SECOND_DIFFERENCES)[inner]).mean() / (face.std() + 1)
        degraded[index] = fine < BLURRED_SHARPNESS * coarse or detail > NOISY_DETAIL
    return degraded


def checked_class_balance(class_balance):
    """`class_balance` if it lies between 0 and 1 (NaN does not), else a ValueError."""
    if not 0.0 <= class_balance <= 1.0:
        raise ValueError(f"class_balance must be between 0 and 1, not {class_balance}")
    return class_balance


def balanced_scores(scores, class_balance):
    """The (N, 7) probabilities divided by FER2013 Training's class prior to the power `class_balance` (0: as
    the networks give them; 1: every class as likely a priori, post-hoc logit adjustment), summing to 1."""
    if checked_class_balance(class_balance) == 0:
        return scores
    balanced = scores / _TRAINING_PRIOR ** class_balance
    return (balanced / balanced.sum(axis=1, keepdims=True)).astype(np.float32)


def valence_arousal(scores):
    """Probability-weighted circumplex position of each row of (N, 7) scores."""
    return np.asarray(scores, dtype=np.float32) @ _CIRCUMPLEX_POINTS


class EmotionClassifier:
    """Seven-class emotion probabilities for face crops, in CLASSES order.

    `model_path` is one .tflite model or several (an ensemble, e.g. ENSEMBLE_MODEL_PATHS), whose probabilities
    are averaged. `flip_tta` averages each face with its mirror image, which costs a second inference;
    `zoom_tta` adds the central ZOOM_TTA_FRACTION of the face (and its mirror with `flip_tta`): four inferences
    per model in all, better disgust and fear recall than the flip alone on PublicTest (docs/MODEL.md).
    Faces JPEG-compressed hard are smoothed before they are read (`deblocked`). `degraded_face_model_path`, if
    given, reads instead the faces a camera degraded: narrower than SMALL_FACE_WIDTH in their image, blurred or
    noisy (`camera_degraded`) or JPEG-compressed (`jpeg_blockiness`), without the zoomed views.
    `class_balance` (0 to 1) divides out FER2013's class prior (`balanced_scores`): the rarer expressions
    (disgust, surprise, angry, fear) read more readily, for where every expression is about as likely.
    """

    def __init__(self, model_path=None, flip_tta=False, num_threads=1, zoom_tta=False,
                 degraded_face_model_path=None, class_balance=0.0):
        paths = [model_path or MODEL_PATH] if isinstance(model_path, (str, Path, type(None))) else model_path
        self.model_paths = tuple(Path(path) for path in paths)
        if not self.model_paths:
            raise ValueError("no emotion model given")
        self._models = [_LiteRTModel(path, num_threads) for path in self.model_paths]
        self.degraded_face_model_path = Path(degraded_face_model_path) if degraded_face_model_path else None
        self._degraded_face_models = []
        if self.degraded_face_model_path:
            self._degraded_face_models.append(_LiteRTModel(self.degraded_face_model_path, num_threads))
        self.flip_tta = flip_tta
        self.zoom_tta = zoom_tta
        self.class_balance = checked_class_balance(class_balance)

    @classmethod
    def shipped(cls, ensemble=False, flip_tta=False, zoom_tta=False, class_balance=0.0):
        """The stream's model, or with `ensemble` the photos' ENSEMBLE_MODEL_PATHS (the `ensemble` parameter),
        which leave small, blurred, noisy and JPEG-compressed faces to DEGRADED_FACE_MODEL_PATH."""
        if ensemble:
            return cls(ENSEMBLE_MODEL_PATHS, flip_tta=flip_tta, zoom_tta=zoom_tta,
                       degraded_face_model_path=DEGRADED_FACE_MODEL_PATH, class_balance=class_balance)
        return cls(MODEL_PATH, flip_tta=flip_tta, zoom_tta=zoom_tta, class_balance=class_balance)

    @property
    def name(self):
        """The model file names, for logs and diagnostics."""
        name = " + ".join(path.name for path in self.model_paths)
        if self.degraded_face_model_path:
            name += (f" (faces under {SMALL_FACE_WIDTH} px, blurred, noisy or JPEG-compressed: "
                     f"{self.degraded_face_model_path.name})")
        return name

    def predict(self, faces, frame_widths=None, unscaled_faces=None):
        """(N, 7) probabilities for a list of uint8 face crops (gray or BGR, any size).

        A face compressed hard as JPEG (`jpeg_blockiness`), its blocks looked for in `unscaled_faces` (each face's
        square cut from its image unresampled, `framed_face`) or else in the crops themselves, is smoothed first
        where its blocks are still whole (UNSHRUNK_FACE_WIDTH). With a degraded-face model, the blurred and noisy
        faces go to it, and so do the small ones where `frame_widths` gives each face's width in its image (the
        crops' own widths if not given, for their blocks), and the JPEG-compressed ones (COMPRESSED_BLOCKINESS).
        """
        if len(faces) == 0:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        compressed, deblock = _compressed(faces, frame_widths, unscaled_faces, bool(self._degraded_face_models))
        inputs = [exposed(face_input(face)) for face in faces]
        inputs = [deblocked(face) if smooth else face for face, smooth in zip(inputs, deblock)]
        views = [np.stack(inputs)[..., None]]
        if self.zoom_tta:
            views.append(np.stack([central_zoom(face) for face in views[0][..., 0]])[..., None])
        if self.flip_tta:
            views += [view[:, :, ::-1] for view in views]
        if not self._degraded_face_models:
            return balanced_scores(_averaged(self._models, views), self.class_balance)
        degraded = camera_degraded(views[0][..., 0]) | compressed
        if frame_widths is not None:
            degraded |= np.asarray(frame_widths, dtype=float).reshape(len(faces)) < SMALL_FACE_WIDTH
        # A degraded face is read as itself and its mirror image: its centre enlarged would only enlarge its blur
        # (PublicTest faces 16-36 px wide, enlarged back: 0.6-1.2 points more without it, docs/MODEL.md).
        unzoomed = views[::2] if self.zoom_tta else views
        scores = np.empty((len(faces), len(CLASSES)), dtype=np.float32)
        for models, rows, seen in ((self._models, ~degraded, views), (self._degraded_face_models, degraded, unzoomed)):
            if rows.any():
                scores[rows] = _averaged(models, [view[rows] for view in seen])
        return balanced_scores(scores, self.class_balance)


def _compressed(faces, frame_widths, unscaled_faces, routes):
    """Which faces the degraded-face model is to read for their JPEG blocks, and which are to be `deblocked`
    (COMPRESSED_BLOCKINESS, HARD_BLOCKINESS, UNSHRUNK_FACE_WIDTH, COMPRESSED_FACE_WIDTH); a face's width is its
    crop's when `frame_widths` is not given. Only the faces the answer can change are measured: narrower than
    COMPRESSED_FACE_WIDTH where the classifier `routes` faces to a degraded-face model, else up to
    UNSHRUNK_FACE_WIDTH (the live stream's faces wider than that cost nothing)."""
    unscaled = faces if unscaled_faces is None else unscaled_faces
    if len(unscaled) != len(faces):
        raise ValueError(f"{len(unscaled)} unscaled faces for {len(faces)} faces")
    if frame_widths is None:
        widths = np.array([check_image(face).shape[1] for face in faces], dtype=float)
    else:
        widths = np.asarray(frame_widths, dtype=float).reshape(len(faces))
    measured = widths < COMPRESSED_FACE_WIDTH if routes else widths <= UNSHRUNK_FACE_WIDTH
    blockiness = np.array([jpeg_blockiness(face) if measure else 0.0 for face, measure in zip(unscaled, measured)])
    unshrunk, hard = widths <= UNSHRUNK_FACE_WIDTH, blockiness >= HARD_BLOCKINESS
    return (unshrunk & (blockiness >= COMPRESSED_BLOCKINESS)) | hard, unshrunk & hard


def _averaged(models, views):
    """The mean of every model's probabilities over every view of the faces."""
    return sum(model.run(view) for model in models for view in views) / (len(views) * len(models))


class _LiteRTModel:
    """One .tflite model, its input resized only when the batch size changes."""

    def __init__(self, path, num_threads):
        if not path.exists():
            raise FileNotFoundError(f"emotion model not found: {path}")
        self._interpreter = litert_interpreter(path, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = int(self._interpreter.get_input_details()[0]["shape"][0])

    def run(self, batch):
        if self._batch != len(batch):
            self._interpreter.resize_tensor_input(self._input, batch.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, dtype=np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()
