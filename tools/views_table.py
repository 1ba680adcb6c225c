"""The stream's model seeing each face one, two or four ways (`flip_tta`, `zoom_tta`), on PublicTest: what each
costs per face on one core and what it reads right, clean and degraded as cameras degrade faces
(docs/MODEL.md, "Training"). `emotion-ros evaluate` measures every row; about 5 minutes on 2 cores.

    python tools/views_table.py
"""

import tempfile

from emotion_ros.model.degradations import CAMERA_DEGRADATIONS
from emotion_ros.model.evaluation import evaluate
from emotion_ros.model.training import DEFAULT_VAL
from emotion_ros.vision.classifier import MODEL_PATH

VIEWS = {
    "the face alone": (False, False),
    "and its centre enlarged": (False, True),
    "and its mirror image": (True, False),
    "all four": (True, True),
}


def main():
    print("| views of each face | `flip_tta`, `zoom_tta` | inferences | time per face | accuracy | balanced accuracy "
          "| recall fear, sad | lost to camera degradations (mean, points) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for name, (flip, zoom) in VIEWS.items():
        with tempfile.TemporaryDirectory() as out_dir:
            metrics = evaluate(DEFAULT_VAL, MODEL_PATH, flip, out_dir, zoom_tta=zoom, robustness=True)
        recall = {name: row["recall"] for name, row in metrics["per_class"].items()}
        drops = [metrics["robustness"][name]["drop"] for name in CAMERA_DEGRADATIONS]
        print(f"| {name} | {str(flip).lower()}, {str(zoom).lower()} | {(1 + flip) * (1 + zoom)} "
              f"| {1000 / metrics['throughput']['batch_1_faces_per_s']:.2f} ms | {100 * metrics['accuracy']:.1f} % "
              f"| {metrics['balanced_accuracy']:.3f} | {recall['fear']:.3f}, {recall['sad']:.3f} "
              f"| {100 * sum(drops) / len(drops):.1f} |")


if __name__ == "__main__":
    main()
