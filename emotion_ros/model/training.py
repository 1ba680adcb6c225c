"""Training the emotion CNN from scratch on FER2013, resumable from the checkpoint of the last epoch.

Keras is imported here and in the modules of the training only, TensorFlow only to export: the stream path
runs the exported LiteRT model without either. The augmentation runs inside the training graph, so the same
code trains on a CPU with TensorFlow and on a GPU with JAX (`fast_training.py`).
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

from ..classes import CLASSES
from ..paths import atomic_output
from ..vision.classifier import FACE_SIZE
from .datasets import load_dataset
from .degradations import jpeg_faces
from .targets import (
    check_target_weights,
    class_prior,
    class_weights,
    dataset_names,
    ferplus_majority,
    ferplus_path,
    load_ferplus,
    one_hot,
    training_targets,
    unreliable_faces,
)
from .widening import network_width, widen_network

DEFAULT_TRAIN = "../shared/data/fer2013/fer2013_train.npz"
DEFAULT_VAL = "../shared/data/fer2013/fer2013_publictest.npz"


def build_model(num_classes=len(CLASSES), width=32, dropout=0.4):
    """A VGG-style CNN: four blocks of two 3x3 conv + batch-norm, then global pooling and a small head.

    The model takes raw 0-255 grayscale faces; the rescaling is inside it so that every runtime
    (Keras, LiteRT) shares the same preprocessing. Dropout is only in the head: spatial dropout between
    the batch-normalised blocks kept the network from learning at all in our first run (train accuracy
    stuck at 21 % after two epochs); augmentation and weight decay regularise the blocks instead.
    """
    import keras
    from keras import layers

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    for filters in (width, width * 2, width * 4, width * 8):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(width * 8, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    # float32 scores also under mixed precision, where a bfloat16 softmax would blunt the loss.
    outputs = layers.Dense(num_classes, activation="softmax", name="scores", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="emotion_cnn")


def build_augmentation(erasing=0.0, camera=0.0, erasing_fill="noise"):
    """Flips, small rotations, shifts, zooms (crops) and lighting changes seen in real camera faces;
    with `erasing`, that fraction of faces also gets a random patch of noise or, `erasing_fill` "flat", of one
    grey (hands, glasses, hair), with `camera` blur, low resolution, noise and low light (docs/TRAINING.md,
    "Training options")."""
    from .augmentation import FaceAugmentation

    return FaceAugmentation(erasing=erasing, camera=camera, erasing_fill=erasing_fill, name="augmentation")


def build_trainer(model, augmentation):
    """The network behind the augmentation, which runs in the training graph (on the GPU where there is
    one). The trainer is what fit() trains and what checkpoints hold; the network alone is exported."""
    import keras

    inputs = keras.Input(model.input_shape[1:], name="face")
    return keras.Model(inputs, model(augmentation(inputs)), name="trainer")


def load_checkpoint(path, compile=True):
    """Load a .keras file of a training run: a trainer (with its augmentation layer) or a bare network."""
    import keras

    from . import augmentation, losses  # noqa: F401  (register FaceAugmentation and the loss for deserialisation)

    return keras.models.load_model(path, compile=compile)


def network_of(model):
    """The emotion network inside a trainer checkpoint (or the model itself when it is a bare network) in
    float32, whatever precision it was trained in: what export, averaging and further training take."""
    network = model.get_layer("emotion_cnn") if model.name == "trainer" else model
    return network if computes_in_float32(network) else in_precision(network, "float32")


def computes_in_float32(network):
    return all(layer.compute_dtype == "float32" for layer in network.layers)


def in_precision(network, policy):
    """A copy of a `build_model()` network, with its weights, whose layers compute in `policy`: "float32", or
    "mixed_bfloat16" (bfloat16 arithmetic on float32 weights, the scores in float32)."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
    try:
        copy = build_model(num_classes=network.output_shape[-1], width=network_width(network))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    copy.set_weights(network.get_weights())
    return copy


def training_set(faces, labels, votes=None, matched=None, ferplus_weight=0.0, drop_unreliable=False,
                 teacher=None, teacher_weight=0.0, class_weight_power=0.5, camera=0.0, seed=0):
    """(faces, labels, targets, per-face loss weights) of a training: FER2013's faces without those FER+
    calls unknown or not a face (`drop_unreliable`), their targets (`training_targets`), with `camera` of
    them JPEG-compressed as a streamed camera image is."""
    keep = np.ones(len(labels), dtype=bool)
    if drop_unreliable:
        if votes is None:
            raise ValueError("leaving out the faces FER+ calls unknown or not a face needs FER+'s votes")
        keep = ~unreliable_faces(votes, matched)
    targets = training_targets(labels, votes, matched, ferplus_weight, teacher, teacher_weight)[keep]
    faces, labels = faces[keep], labels[keep]
    if camera:
        faces = jpeg_faces(faces, camera / 2, seed)
    return faces, labels, targets, class_weights(labels, class_weight_power)[labels]


def check_select(select):
    """The PublicTest metric that picks the best epoch: accuracy or balanced_accuracy."""
    if select not in ("accuracy", "balanced_accuracy"):
        raise ValueError(f"select the best epoch by accuracy or balanced_accuracy, not {select!r}")


def ferplus_votes(dataset_path, limit=None):
    """FER+'s (votes, matched) for a FER2013 .npz archive, from the `_ferplus.npz` beside it."""
    votes, matched = load_ferplus(ferplus_path(dataset_path), dataset_names(dataset_path))
    return (votes[:limit], matched[:limit]) if limit else (votes, matched)


def validation_callback(x_val, y_val, val_votes=None):
    """Adds to each epoch's logs, before they are written and checkpoints chosen, the PublicTest metrics that
    accuracy hides: `val_balanced_accuracy` (mean recall of the seven classes) and, with FER+'s votes,
    `val_ferplus_agreement` (accuracy against FER+'s majority label)."""
    import keras

    faces = x_val[..., None].astype(np.float32)
    majority = None if val_votes is None else ferplus_majority(*val_votes)

    class ValidationMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            predicted = self.model.predict(faces, batch_size=256, verbose=0).argmax(axis=1)
            recalls = [np.mean(predicted[y_val == k] == k) for k in range(len(CLASSES)) if (y_val == k).any()]
            logs["val_balanced_accuracy"] = float(np.mean(recalls))
            if majority is not None:
                logs["val_ferplus_agreement"] = float(np.mean(predicted[majority >= 0] == majority[majority >= 0]))

    return ValidationMetrics()


def train(
    train_path=DEFAULT_TRAIN,
    val_path=DEFAULT_VAL,
    run_dir="runs/emotion_cnn",
    epochs=60,
    batch_size=64,
    learning_rate=2e-3,
    width=32,
    class_weight_power=0.5,
    limit=None,
    resume=False,
    seed=0,
    init_from=None,
    teacher=None,
    teacher_weight=0.5,
    ferplus_weight=0.0,
    drop_unreliable=False,
    logit_adjustment=0.0,
    camera=0.0,
    select="accuracy",
    bfloat16=False,
    erasing=0.0,
    erasing_fill="noise",
):
    """Train, keeping `last.keras` (every epoch), `best.keras` (best PublicTest `select`: accuracy or
    balanced_accuracy), `history.csv` and `curves.png` in `run_dir`, its options in `train_config.json`. With
    `resume`, training continues from `last.keras` with those options, up to `epochs`; without it, a run
    directory that holds a training is refused.

    `init_from` starts from the weights of an earlier run with a fresh optimizer and a new warm-up and
    cosine cycle (a warm restart): a finished cosine schedule ends at a learning rate of zero, so a longer
    training cannot simply resume it. A `width` above that network's widens it first (`widening.py`) and
    keeps the widened start in `run_dir` (widened.keras).

    `teacher` (.tflite models, e.g. the photos' ensemble) distils them into the network trained: each face's
    target mixes its label with `teacher_weight` of the teacher's probabilities (four views of the face, as
    the photos see it), which carry what the teacher knows about similar classes. They are computed once,
    before the first epoch, and kept in `run_dir` (teacher.npy) for a resumed run. `ferplus_weight` mixes in
    FER+'s ten votes the same way, `drop_unreliable` leaves out the faces FER+ calls unknown or not a face,
    `logit_adjustment` (tau) balances the classes in the loss (`losses.py`), `camera` degrades that fraction
    of the faces as cameras do and `erasing` hides a random patch of that fraction (noise, or one grey with
    `erasing_fill` "flat"), as a hand or glasses would (`FaceAugmentation`).

    `bfloat16` computes in bfloat16 on float32 weights (Keras's mixed precision), as `train-gpu` does: on a
    CPU with AMX (`lscpu` lists amx_bf16) an epoch takes about a quarter less time (docs/TRAINING.md). Its
    checkpoints keep that precision, so a resumed run keeps it too; `network_of` gives their network in float32.
    """
    import keras

    from .losses import training_loss

    check_select(select)
    check_target_weights(ferplus_weight, teacher_weight if teacher else 0.0)  # before the teacher's minutes
    run_dir = Path(run_dir)
    last_path, best_path, history_path = run_dir / "last.keras", run_dir / "best.keras", run_dir / "history.csv"
    config_path = run_dir / "train_config.json"
    if resume and not last_path.exists():
        raise FileNotFoundError(f"nothing to resume: {last_path} does not exist (leave out --resume to start)")
    if not resume and (last_path.exists() or best_path.exists()) and epochs:
        raise FileExistsError(f"{run_dir} holds a training already: --resume continues it, or choose another "
                              "--run-dir")
    options = {"train": str(train_path), "val": str(val_path), "batch_size": batch_size,
               "learning_rate": learning_rate, "width": width, "class_weight_power": class_weight_power,
               "limit": limit, "seed": seed, "init_from": str(init_from) if init_from else None,
               "teacher": [str(path) for path in teacher or []], "teacher_weight": teacher_weight,
               "ferplus_weight": ferplus_weight, "drop_unreliable": drop_unreliable,
               "logit_adjustment": logit_adjustment, "camera": camera, "erasing": erasing, "erasing_fill": erasing_fill,
               "select": select}
    if resume and config_path.exists():
        # A resumed run goes on as it was started (its data, targets, class weights, seed), whatever options
        # the resuming command gives: only `epochs` says where it now ends.
        recorded = json.loads(config_path.read_text())
        changed = sorted(name for name in options if name in recorded and recorded[name] != options[name])
        options.update({name: recorded[name] for name in options if name in recorded})
        if changed:
            print(f"resuming with the options the run was started with ({config_path}): "
                  + ", ".join(f"{name} {options[name]!r}" for name in changed))
    train_path, val_path, batch_size, limit, seed = (options[name] for name in
                                                     ("train", "val", "batch_size", "limit", "seed"))
    class_weight_power, teacher, teacher_weight = (options[name] for name in
                                                   ("class_weight_power", "teacher", "teacher_weight"))
    ferplus_weight, drop_unreliable, camera, erasing, erasing_fill, select = (
        options[name] for name in ("ferplus_weight", "drop_unreliable", "camera", "erasing", "erasing_fill", "select"))
    keras.utils.set_random_seed(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        config_path.write_text(json.dumps({**options, "epochs": epochs, "bfloat16": bfloat16}, indent=2))

    x_train, y_train = load_dataset(train_path, usage="Training")
    x_val, y_val = load_dataset(val_path, usage="PublicTest")
    votes = matched = val_votes = None
    if ferplus_weight or drop_unreliable:
        votes, matched = ferplus_votes(train_path, limit)
    if ferplus_path(val_path).exists():
        val_votes = ferplus_votes(val_path, limit)
    if limit:
        x_train, y_train, x_val, y_val = x_train[:limit], y_train[:limit], x_val[:limit], y_val[:limit]
    print(f"train {len(x_train)} faces from {train_path}, validate on {len(x_val)} from {val_path}")

    probabilities = teacher_probabilities(teacher, x_train, run_dir / "teacher.npy") if teacher else None
    x_train, y_train, targets, sample_weights = training_set(
        x_train, y_train, votes, matched, ferplus_weight, drop_unreliable, probabilities,
        teacher_weight if teacher else 0.0, class_weight_power, camera, seed)
    weights = class_weights(y_train, class_weight_power)
    print(f"{len(x_train)} faces in training; class weights: "
          + ", ".join(f"{c} {w:.2f}" for c, w in zip(CLASSES, weights)))
    steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
    monitor = f"val_{select}"

    initial_epoch, best_value = 0, None
    if resume:
        trainer = load_checkpoint(last_path)
        bfloat16 = not computes_in_float32(trainer.get_layer("emotion_cnn"))
        rows = read_history(history_path)
        initial_epoch = len(rows)
        best_value = max((float(r[monitor]) for r in rows), default=None)
        print(f"resuming {last_path} after epoch {initial_epoch} (best {monitor} {best_value})")
    else:
        if init_from:
            model = network_of(load_checkpoint(init_from, compile=False))
            print(f"starting from the weights of {init_from}")
            if width > network_width(model):
                print(f"widened from {network_width(model)} to {width} filters: {run_dir / 'widened.keras'}")
                model = widen_network(model, width, seed=seed)
                model.save(run_dir / "widened.keras")  # the start, to average the trained network with
        else:
            model = build_model(width=width)
        if bfloat16:
            model = in_precision(model, "mixed_bfloat16")
        trainer = build_trainer(model, build_augmentation(erasing=erasing, camera=camera, erasing_fill=erasing_fill))
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, (epochs - 2) * steps_per_epoch),
            warmup_target=learning_rate,
            warmup_steps=2 * steps_per_epoch,
        )
        trainer.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
            loss=training_loss(class_prior(targets, sample_weights), logit_adjustment),
            metrics=["accuracy"],
        )
        model.summary(print_fn=print)
    if initial_epoch >= epochs:
        print(f"already trained for {initial_epoch} epochs; nothing to do")
        return best_path

    callbacks = [
        validation_callback(x_val, y_val, val_votes),
        keras.callbacks.ModelCheckpoint(last_path),
        keras.callbacks.ModelCheckpoint(
            best_path,
            monitor=monitor,
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_value,
        ),
        keras.callbacks.CSVLogger(history_path, append=True),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: plot_curves(history_path)),
    ]
    trainer.fit(
        x_train[..., None].astype(np.float32),
        targets,
        sample_weight=sample_weights,
        batch_size=batch_size,
        validation_data=(x_val[..., None].astype(np.float32), one_hot(y_val)),
        validation_batch_size=256,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    config_path.write_text(json.dumps({**options, "epochs": epochs, "bfloat16": bfloat16}, indent=2))
    return best_path


def teacher_probabilities(model_paths, faces, cache_path):
    """The teacher's (N, 7) probabilities for the training faces, read from `cache_path` when it holds them."""
    if cache_path.exists():
        probabilities = np.load(cache_path)
        if probabilities.shape == (len(faces), len(CLASSES)):
            return probabilities
    from ..vision.classifier import EmotionClassifier

    teacher = EmotionClassifier(model_paths, flip_tta=True, zoom_tta=True)
    print(f"teacher {teacher.name}: classifying {len(faces)} training faces")
    probabilities = np.concatenate([teacher.predict(faces[i : i + 256]) for i in range(0, len(faces), 256)])
    np.save(cache_path, probabilities)
    return probabilities


def read_history(path):
    if not Path(path).exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def combine_histories(run_dirs, out_dir):
    """Join the histories of successive stages (a run, then its warm restarts) into one
    `training_history.csv`, epochs numbered on, and plot it as `training_curves.png` in `out_dir`."""
    rows = []
    for run_dir in run_dirs:
        history_path = Path(run_dir) / "history.csv"
        stage_rows = read_history(history_path)
        if not stage_rows:
            raise FileNotFoundError(f"no training history in {history_path}")
        rows += [dict(row, epoch=str(int(row["epoch"]) + len(rows))) for row in stage_rows]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history_path = out_dir / "training_history.csv"
    with open(history_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_curves(history_path, out_dir / "training_curves.png")
    return history_path


def plot_curves(history_path, png_path=None):
    """Write the loss and accuracy per epoch to `png_path` (default: curves.png beside the history)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_history(history_path)
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for key, axis in (("loss", loss_axis), ("accuracy", accuracy_axis)):
        axis.plot(epochs, [float(r[key]) for r in rows], label="train (augmented)")
        axis.plot(epochs, [float(r["val_" + key]) for r in rows], label="PublicTest")
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(png_path or Path(history_path).with_name("curves.png"), dpi=100)
    plt.close(figure)


def average_weights(keras_paths, shares, out_path):
    """Save to `out_path` the network whose every weight is the `shares`-weighted mean of those of the networks
    in `keras_paths`: a network and its fine-tunes, which lie close enough together that their mean is a network
    too, between them in what it does (Wortsman et al. 2022). The stream's model is the distilled
    network averaged with its camera fine-tune: most of the fine-tune's robustness to camera faces, less of its
    loss on sharp ones (docs/MODEL.md)."""
    if len(keras_paths) < 2 or len(shares) != len(keras_paths):
        raise ValueError(f"average two networks or more, one share each (got {len(keras_paths)} networks and "
                         f"{len(shares)} shares)")
    if min(shares) <= 0 or abs(sum(shares) - 1) > 1e-6:
        raise ValueError(f"the shares must be positive and add up to 1, not {list(shares)}")
    networks = [network_of(load_checkpoint(path, compile=False)) for path in keras_paths]
    weights = [network.get_weights() for network in networks]
    for path, other in zip(keras_paths[1:], weights[1:]):
        if [layer.shape for layer in other] != [layer.shape for layer in weights[0]]:
            raise ValueError(f"{path} is not the same network as {keras_paths[0]}: only the weights of one "
                             "architecture (a network and its fine-tunes) can be averaged")
    averaged = networks[0]
    averaged.set_weights([sum(share * layer for share, layer in zip(shares, layers)) for layers in zip(*weights)])
    with atomic_output(Path(out_path)) as keras_file:
        averaged.save(keras_file)
    return Path(out_path)


def export_model(keras_path, out_dir, quantize=True, name="emotion_cnn", force=False):
    """Write `<name>.keras` (weights only, no optimizer) and `<name>.tflite` for LiteRT.

    `quantize` stores the LiteRT weights as int8 (dynamic-range quantization: activations stay float): on
    PublicTest the same accuracy as float32 and 3.7 times the speed at batch 1 (docs/MODEL.md). The network
    must take 48x48x1 faces and give the seven classes' scores. Existing files are replaced only with
    `force`, and never through a link (a colcon --symlink-install tree points into the sources); each file
    appears whole, or not at all.
    """
    import tempfile

    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    targets = [out_dir / f"{name}.keras", out_dir / f"{name}.tflite"]
    for target in targets:
        if target.is_symlink() or out_dir.is_symlink():
            raise ValueError(f"{target} is a link (into {target.resolve().parent}): export to that folder itself")
        if target.exists() and not force:
            raise FileExistsError(f"{target} exists: --force replaces it")
    trained = network_of(load_checkpoint(keras_path, compile=False))
    expected = ((None, FACE_SIZE, FACE_SIZE, 1), (None, len(CLASSES)))
    if (tuple(trained.input_shape), tuple(trained.output_shape)) != expected:
        raise ValueError(f"{keras_path}: the network maps {trained.input_shape} to {trained.output_shape}, not a "
                         f"48x48x1 face to the {len(CLASSES)} classes' scores")
    model = keras.Model.from_config(trained.get_config())
    model.set_weights(trained.get_weights())
    with tempfile.TemporaryDirectory() as saved_model_dir:
        model.export(saved_model_dir, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        tflite = converter.convert()
    with atomic_output(targets[0]) as keras_file:
        model.save(keras_file)
    with atomic_output(targets[1]) as tflite_file:
        tflite_file.write_bytes(tflite)
    return targets[1]
