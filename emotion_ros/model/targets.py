"""What the network learns from: FER2013's labels, FER+'s ten votes for the same faces, a teacher's
probabilities, and the class prior that a logit-adjusted loss corrects for.

FER+ (Barsoum et al., ICMI 2016, MIT) had ten annotators label every FER2013 face; its archives in
`../shared/data/fer2013/` are row-aligned with FER2013's, one `<split>_ferplus.npz` beside each split.
"""

from pathlib import Path

import numpy as np

from ..classes import CLASSES

# FER+'s labels, in the order of its `votes` columns: the seven classes, then three of its own.
FERPLUS_LABELS = CLASSES + ("contempt", "unknown", "not_face")
_UNRELIABLE = [FERPLUS_LABELS.index("unknown"), FERPLUS_LABELS.index("not_face")]


def ferplus_path(dataset_path):
    """Where FER+'s votes for a FER2013 archive are: `fer2013_train.npz` → `fer2013_train_ferplus.npz`."""
    path = Path(dataset_path)
    return path.with_name(f"{path.stem}_ferplus.npz")


def load_ferplus(path, names=None):
    """(votes float32 (N, 10) in FERPLUS_LABELS order, matched bool (N,)) of a FER+ archive.

    `names`, the FER2013 archive's file names, are checked against the archive's, row by row, so that votes
    never land on the wrong faces.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FER+ votes not found: {path}")
    with np.load(path, allow_pickle=False) as archive:
        votes, matched = archive["votes"].astype(np.float32), archive["matched"].astype(bool)
        vote_names = tuple(str(name) for name in archive["vote_names"]) if "vote_names" in archive else None
        if names is not None and (len(archive["names"]) != len(names) or (archive["names"] != names).any()):
            raise ValueError(f"{path}: its rows are not the faces of the archive it should label")
    if vote_names not in (None, FERPLUS_LABELS) or votes.shape != (len(matched), len(FERPLUS_LABELS)):
        raise ValueError(f"{path}: expected votes for {', '.join(FERPLUS_LABELS)}")
    return votes, matched


def dataset_names(dataset_path):
    """The file names of a FER2013 .npz archive, to join FER+'s votes with it."""
    with np.load(dataset_path, allow_pickle=False) as archive:
        return archive["names"]


def ferplus_majority(votes, matched):
    """FER+'s label of each face: the one label most annotators chose, as an index into CLASSES; -1 where
    that is a tie, contempt, unknown or not a face, or where FER+ has no votes for the face."""
    top = votes.max(axis=1)
    unique = (votes == top[:, None]).sum(axis=1) == 1
    label = votes.argmax(axis=1)
    return np.where(matched & unique & (label < len(CLASSES)), label, -1)


def unreliable_faces(votes, matched):
    """Faces whose most frequent FER+ vote is unknown or not a face (ties included): left out with
    `drop_unreliable`."""
    return matched & (votes[:, _UNRELIABLE].max(axis=1) >= votes[:, : len(CLASSES) + 1].max(axis=1))


def training_targets(labels, votes=None, matched=None, ferplus_weight=0.0, teacher=None, teacher_weight=0.0):
    """Each face's (7,) target: its one-hot FER2013 label, of which `ferplus_weight` is replaced by the
    distribution of FER+'s votes over the seven classes (where FER+ gave the face any) and `teacher_weight`
    by the teacher's probabilities (N, 7)."""
    check_target_weights(ferplus_weight, teacher_weight)
    targets = one_hot(labels)
    if ferplus_weight:
        if votes is None or len(votes) != len(labels):
            raise ValueError("FER+ targets need one row of votes per training face")
        class_votes = votes[:, : len(CLASSES)]
        total = class_votes.sum(axis=1, keepdims=True)
        has_votes = matched[:, None] & (total > 0)
        crowd = np.divide(class_votes, total, out=targets.copy(), where=has_votes)
        targets = (1 - ferplus_weight) * targets + ferplus_weight * crowd
    if teacher_weight:
        if teacher is None or teacher.shape != (len(labels), len(CLASSES)):
            shape = None if teacher is None else teacher.shape
            raise ValueError(f"the teacher's probabilities are {shape}, "
                             f"not one row of {len(CLASSES)} per training face ({len(labels)})")
        targets = targets + teacher_weight * (teacher - one_hot(labels))
    return targets.astype(np.float32)


def check_target_weights(ferplus_weight, teacher_weight):
    for name, weight in (("FER+", ferplus_weight), ("teacher", teacher_weight)):
        if not 0 <= weight <= 1:
            raise ValueError(f"the {name} weight must be between 0 and 1, not {weight}")
    if ferplus_weight + teacher_weight > 1:
        raise ValueError(f"the FER+ and teacher weights add up to {ferplus_weight + teacher_weight}, more than 1")


def one_hot(labels):
    return np.eye(len(CLASSES), dtype=np.float32)[labels]


def class_weights(labels, power=0.5):
    """Inverse class frequency raised to `power` (0: none, 1: fully balanced), mean weight 1."""
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1)) ** power
    return (weights / (weights * counts).sum() * counts.sum()).astype(np.float32)


def class_prior(targets, sample_weights):
    """The share of each class in the weighted targets: what a logit-adjusted loss divides out."""
    mass = (targets * sample_weights[:, None]).sum(axis=0)
    return (mass / mass.sum()).astype(np.float32)
