"""Loading FER2013-style data: the shared .npz archives, the original CSV, or a folder of class folders."""

import csv
from pathlib import Path

import cv2
import numpy as np

from ..classes import CLASSES
from ..vision.classifier import FACE_SIZE
from ..vision.images import IMAGE_SUFFIXES


def load_dataset(path, usage=None):
    """Return (images uint8 (N, 48, 48), labels uint8 (N,)) with labels indexing CLASSES.

    `path` is an .npz archive (images, labels, classes), a FER2013 CSV (emotion, pixels[, Usage]) where
    `usage` picks rows such as "Training", or a directory holding one sub-directory per class name.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.is_dir():
        return _load_folder(path)
    if path.suffix == ".npz":
        return _load_npz(path)
    if path.suffix == ".csv":
        return _load_csv(path, usage)
    raise ValueError(f"unsupported dataset {path}: expected .npz, .csv or a directory of class folders")


def _load_npz(path):
    with np.load(path, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
        classes = tuple(str(c) for c in archive["classes"]) if "classes" in archive else CLASSES
    if classes != CLASSES:
        remap = np.array([CLASSES.index(c) for c in classes], dtype=np.uint8)
        labels = remap[labels]
    return _checked(images.astype(np.uint8), labels.astype(np.uint8), path)


def _load_csv(path, usage):
    images, labels = [], []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if usage and row.get("Usage", usage) != usage:
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            images.append(pixels.reshape(FACE_SIZE, FACE_SIZE))
            labels.append(int(row["emotion"]))
    return _checked(np.array(images, dtype=np.uint8), np.array(labels, dtype=np.uint8), path)


def _load_folder(path):
    images, labels = [], []
    for index, name in enumerate(CLASSES):
        for file in sorted((path / name).glob("*")):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise ValueError(f"unreadable image in dataset: {file}")
            images.append(cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA))
            labels.append(index)
    return _checked(np.array(images, dtype=np.uint8), np.array(labels, dtype=np.uint8), path)


def _checked(images, labels, path):
    if len(images) == 0:
        raise ValueError(f"no images in dataset {path} (class folders must be named {', '.join(CLASSES)})")
    if images.shape[1:] != (FACE_SIZE, FACE_SIZE) or len(images) != len(labels):
        raise ValueError(f"dataset {path}: expected (N, 48, 48) images and N labels, got {images.shape}")
    if labels.max() >= len(CLASSES):
        raise ValueError(f"dataset {path}: label {labels.max()} outside the {len(CLASSES)} classes")
    return images, labels
