"""Training on a GPU in minutes: the whole dataset in memory, bfloat16, large batches, and a schedule sized
to a time budget.

The code is plain Keras, so it runs on any backend: the lent GPU machine has JAX and PyTorch but no
TensorFlow, the CPU test runs it on TensorFlow. The augmentation runs in the training graph, on the GPU.
Only the float32 network is saved (no optimizer: a run is minutes, not worth resuming), ready for export.
"""

import json
import math
import time
from pathlib import Path

import cv2
import numpy as np

from ..classes import CLASSES
from .datasets import load_dataset
from .targets import class_prior, ferplus_path, one_hot
from .training import (
    build_augmentation,
    build_model,
    build_trainer,
    check_select,
    ferplus_votes,
    plot_curves,
    read_history,
    training_set,
    validation_callback,
)

# Training faces as JPEG at this quality: FER2013's faces were JPEG-encoded once already, and re-encoding
# them at 95 changes a pixel by 0.045 grey levels on average (measured on 2,000 faces). PublicTest is
# stored losslessly (WebP), so the accuracy measured on the GPU is exact.
PACK_JPEG_QUALITY = 95
WARMUP_EPOCHS = 3
MAX_EPOCHS = 10_000  # with a time budget, the deadline ends the training


def pack_datasets(train_path, val_path, out_path):
    """Write Training and PublicTest into one .npz small enough to travel to a GPU machine (~51 MB), with
    FER+'s votes for both when they are beside the archives."""
    arrays = {}
    for split, path, params in (("train", train_path, [cv2.IMWRITE_JPEG_QUALITY, PACK_JPEG_QUALITY]),
                                ("val", val_path, [cv2.IMWRITE_WEBP_QUALITY, 101])):
        images, labels = load_dataset(path)
        suffix = ".jpg" if split == "train" else ".webp"
        encoded = [cv2.imencode(suffix, image, params)[1] for image in images]
        arrays[f"{split}_bytes"] = np.concatenate(encoded)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(e) for e in encoded])
        arrays[f"{split}_labels"] = labels
        if ferplus_path(path).exists():
            arrays[f"{split}_votes"], arrays[f"{split}_matched"] = ferplus_votes(path)
            arrays[f"{split}_votes"] = arrays[f"{split}_votes"].astype(np.uint8)
    np.savez(out_path, classes=np.array(CLASSES), **arrays)
    return Path(out_path)


def load_pack(path):
    """Return (x_train, y_train, x_val, y_val) from a file written by `pack_datasets`."""
    with np.load(path, allow_pickle=False) as archive:
        if tuple(str(c) for c in archive["classes"]) != CLASSES:
            raise ValueError(f"{path}: classes {list(archive['classes'])} differ from {list(CLASSES)}")
        splits = []
        for split in ("train", "val"):
            data, offsets = archive[f"{split}_bytes"], archive[f"{split}_offsets"]
            images = np.stack([cv2.imdecode(data[a:b], cv2.IMREAD_GRAYSCALE) for a, b in zip(offsets, offsets[1:])])
            splits += [images, archive[f"{split}_labels"]]
    return tuple(splits)


def load_pack_votes(path, split):
    """FER+'s (votes float32 (N, 10), matched) for a packed split ("train" or "val"), or None if not packed."""
    with np.load(path, allow_pickle=False) as archive:
        if f"{split}_votes" not in archive:
            return None
        return archive[f"{split}_votes"].astype(np.float32), archive[f"{split}_matched"]


class TimeBudgetSchedule:
    """Epoch-wise learning rate: a linear warm-up, then one cosine decay.

    With `epochs`, the cosine spans that many epochs (reproducible). With a time budget instead, the cosine
    runs on the clock and ends at the deadline: the GPU may be shared with other trainings whose load
    changes, so a number of epochs fixed from the first ones could end too early or too late.
    """

    def __init__(self, peak, epochs=None, time_budget=None):
        self.peak, self.epochs = peak, epochs
        self.deadline = None if time_budget is None else time.monotonic() + time_budget
        self.decay_start = None
        self.epoch_starts = []

    def learning_rate(self, epoch, current=None):
        """The rate of `epoch`; `current` is what Keras's LearningRateScheduler passes, unused."""
        now = time.monotonic()
        self.epoch_starts.append(now)
        if epoch < WARMUP_EPOCHS:
            return self.peak * (epoch + 1) / WARMUP_EPOCHS
        if self.epochs:
            progress = (epoch - WARMUP_EPOCHS) / max(1, self.epochs - WARMUP_EPOCHS)
        else:
            self.decay_start = self.decay_start or now
            progress = (now - self.decay_start) / max(1e-9, self.deadline - self.decay_start)
        return self.peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def finished(self, epoch):
        """Whether to stop after `epoch`: the last epoch is done, or the next one would end past the deadline."""
        if self.epochs:
            return epoch + 1 >= self.epochs
        last_epoch_seconds = time.monotonic() - self.epoch_starts[-1]
        return time.monotonic() + last_epoch_seconds > self.deadline


def make_optimizer(name, learning_rate, weight_decay):
    import keras

    if name == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    elif name == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {name!r}: use adamw or sgd")
    # Decay only the kernels: decaying batch-norm scales and biases only fights the normalisation.
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


def train_fast(
    data_path,
    out_dir,
    width=32,
    optimizer="adamw",
    learning_rate=3e-3,
    weight_decay=0.05,
    batch_size=512,
    time_budget=480.0,
    epochs=None,
    erasing=0.5,
    dropout=0.4,
    class_weight_power=0.5,
    mixed_precision=True,
    limit=None,
    seed=0,
    teacher=None,
    teacher_weight=0.5,
    ferplus_weight=0.0,
    drop_unreliable=False,
    logit_adjustment=0.0,
    camera=0.0,
    select="accuracy",
    erasing_fill="noise",
):
    """Train one model on a packed dataset (`pack_datasets`) and write to `out_dir`: `best.keras` (best
    PublicTest `select`: accuracy or balanced_accuracy), `last.keras`, `history.csv`, `curves.png` and
    `train_config.json`.

    `teacher` is a .npy of a teacher's probabilities for the packed Training faces, in their order: the
    `teacher.npy` that `train --teacher` writes (LiteRT, which computes it, is not on the GPU machine).
    The FER+, class-balance, camera and erasing options are `train`'s.
    """
    import keras

    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .losses import training_loss

    check_select(select)
    x_train, y_train, x_val, y_val = load_pack(data_path)
    votes, val_votes = load_pack_votes(data_path, "train"), load_pack_votes(data_path, "val")
    if (ferplus_weight or drop_unreliable) and votes is None:
        raise ValueError(f"{data_path} holds no FER+ votes: pack it with the _ferplus.npz files beside the data")
    probabilities = np.load(teacher) if teacher else None
    if limit:
        x_train, y_train, x_val, y_val = x_train[:limit], y_train[:limit], x_val[:limit], y_val[:limit]
        votes = None if votes is None else (votes[0][:limit], votes[1][:limit])
        val_votes = None if val_votes is None else (val_votes[0][:limit], val_votes[1][:limit])
        probabilities = None if probabilities is None else probabilities[:limit]
    x_train, y_train, targets, sample_weights = training_set(
        x_train, y_train, *(votes or (None, None)), ferplus_weight, drop_unreliable, probabilities,
        teacher_weight if teacher else 0.0, class_weight_power, camera, seed)
    print(f"keras {keras.__version__} on {keras.backend.backend()}; train {len(x_train)}, validate {len(x_val)} "
          f"faces ({time.monotonic() - started:.1f} s to load)")

    augmentation = build_augmentation(erasing=erasing, camera=camera, erasing_fill=erasing_fill)
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(width=width, dropout=dropout)
    keras.mixed_precision.set_global_policy("float32")
    trainer = build_trainer(model, augmentation)
    trainer.compile(
        optimizer=make_optimizer(optimizer, learning_rate, weight_decay),
        loss=training_loss(class_prior(targets, sample_weights), logit_adjustment),
        metrics=["accuracy"],
    )

    schedule = TimeBudgetSchedule(learning_rate, epochs, None if epochs else time_budget - (time.monotonic() - started))
    # The best weights are kept in memory and written at most once a minute: saving at every improvement
    # would cost more than the epoch itself early on.
    float32_model = build_model(width=width, dropout=dropout)
    monitor = f"val_{select}"
    best = {monitor: -1.0, "weights": None, "saved": time.monotonic(), "dirty": False}

    def save(weights, name):
        float32_model.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
        float32_model.save(out_dir / name)

    def on_epoch_end(epoch, logs):
        if logs[monitor] > best[monitor]:
            best.update({monitor: logs[monitor], "epoch": epoch + 1, "weights": model.get_weights(), "dirty": True})
        if best["dirty"] and time.monotonic() - best["saved"] > 60:
            save(best["weights"], "best.keras")
            best.update(saved=time.monotonic(), dirty=False)
        if schedule.finished(epoch):
            trainer.stop_training = True

    history_path = out_dir / "history.csv"
    history_path.unlink(missing_ok=True)
    trainer.fit(
        x_train[..., None].astype(np.float32),
        targets,
        sample_weight=sample_weights,
        batch_size=batch_size,
        epochs=epochs or MAX_EPOCHS,
        validation_data=(x_val[..., None].astype(np.float32), one_hot(y_val)),
        validation_batch_size=1024,
        callbacks=[
            keras.callbacks.LearningRateScheduler(schedule.learning_rate),
            validation_callback(x_val, y_val, val_votes),
            keras.callbacks.CSVLogger(history_path),
            keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end),
        ],
        verbose=2,
    )
    save(best["weights"], "best.keras")
    save(model.get_weights(), "last.keras")
    plot_curves(history_path)
    rows = read_history(history_path)
    config = {
        "data": str(data_path), "width": width, "optimizer": optimizer, "learning_rate": learning_rate,
        "weight_decay": weight_decay, "batch_size": batch_size, "time_budget": time_budget, "epochs": len(rows),
        "erasing": erasing, "erasing_fill": erasing_fill, "dropout": dropout, "class_weight_power": class_weight_power,
        "mixed_precision": mixed_precision, "seed": seed, "backend": keras.backend.backend(),
        "teacher": str(teacher) if teacher else None, "teacher_weight": teacher_weight,
        "ferplus_weight": ferplus_weight, "drop_unreliable": drop_unreliable, "logit_adjustment": logit_adjustment,
        "camera": camera, "select": select, "best_epoch": best.get("epoch"), f"best_{monitor}": best[monitor],
        "last_val_accuracy": float(rows[-1]["val_accuracy"]), "seconds": round(time.monotonic() - started, 1),
    }
    (out_dir / "train_config.json").write_text(json.dumps(config, indent=2))
    print(json.dumps(config))
    return out_dir / "best.keras"
