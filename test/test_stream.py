"""The stream detector and pipeline on the sample video, and `emotion-ros bench` on a few frames."""

import argparse
import importlib.util
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from emotion_ros.apps.bench import add_bench_parser, bench_clips, run_bench, video_frames
from emotion_ros.classes import CLASSES
from emotion_ros.config import node_params
from emotion_ros.vision.classifier import MODEL_PATH, valence_arousal
from emotion_ros.apps.samples import sample_video
from emotion_ros.vision.blazeface import BlazeFaceDetector, BlazeFaceStreamDetector
from emotion_ros.vision.stream import StreamPipeline

ROOT = Path(__file__).resolve().parent.parent
FPS = 30.0
SWITCH_FRAME = 36


@pytest.fixture(scope="module")
def video():
    """The 72 frames of the sample video (one face talking), letterboxed to 640x480."""
    return video_frames(sample_video())


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter = max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))
    return inter / (aw * ah + bw * bh - inter)


class ScriptedClassifier:
    """Neutral, then happy from SWITCH_FRAME on, each with a close second: a per-frame argmax flickers."""

    def __init__(self):
        self.frame = 0
        self.raw_labels = []
        self._rng = np.random.default_rng(1)

    def predict(self, faces, frame_widths=None, unscaled_faces=None):
        rows = []
        for _ in faces:
            row = np.full(len(CLASSES), 0.02)
            if self.frame < SWITCH_FRAME:
                row[CLASSES.index("neutral")], row[CLASSES.index("sad")] = 0.42, 0.36
            else:
                row[CLASSES.index("happy")], row[CLASSES.index("surprise")] = 0.45, 0.33
            if self.frame > 0:  # a clean first frame, so that the published label starts from neutral
                row = np.clip(row + self._rng.normal(0, 0.08, len(CLASSES)), 0.001, None)
            rows.append(row / row.sum())
            self.raw_labels.append(CLASSES[int(np.argmax(rows[-1]))])
        self.frame += 1
        return np.array(rows, dtype=np.float32).reshape(len(faces), len(CLASSES))


def test_the_stream_detector_finds_the_face_of_every_frame_where_a_full_scan_does(video):
    detector, full = BlazeFaceStreamDetector(), BlazeFaceDetector()
    for image in video:
        (found,), (reference,) = detector(image), full(image)
        assert iou(found.box, reference.box) > 0.6


def test_the_whole_frame_is_scanned_only_every_detect_every_frames(video):
    detector = BlazeFaceStreamDetector(detect_every=10)
    scans = []
    scan = detector._scan
    detector._scan = lambda gray: scans.append(1) or scan(gray)
    found = [len(detector(image)) for image in video]
    assert found == [1] * len(video)
    assert len(scans) == len(video) // 10 + 1


def test_a_face_that_jumps_elsewhere_is_found_again_at_once(video):
    pan = dict(bench_clips(clip_frames=12))["pan 0-f15-hao-ph"]
    detector = BlazeFaceStreamDetector(detect_every=30)
    boxes = [[d.box for d in detector(image)] for image in video[:10] + pan]
    assert all(len(frame) == 1 for frame in boxes[:10])
    assert sum(len(frame) == 1 for frame in boxes[10:]) >= len(pan) - 1  # lost for one frame at most
    assert iou(boxes[9][0], boxes[-1][0]) < 0.3  # it did move


def test_nothing_is_found_in_an_empty_or_gray_frame():
    detector = BlazeFaceStreamDetector(detect_every=1)
    assert detector(np.full((480, 640, 3), 127, np.uint8)) == []
    assert detector(np.zeros((240, 320), np.uint8)) == []


def test_the_stream_pipeline_keeps_one_id_and_publishes_consistent_smoothed_emotions(video):
    classifier = ScriptedClassifier()
    pipeline = StreamPipeline(classifier=classifier)
    frames = [pipeline.process(image, index / FPS) for index, image in enumerate(video)]
    assert all(len(faces) == 1 for faces in frames)
    faces = [face for faces in frames for face in faces]
    assert {face.face_id for face in faces} == {"face_1"}
    labels = [face.label for face in faces]
    assert sum(a != b for a, b in zip(classifier.raw_labels, classifier.raw_labels[1:])) > 10
    assert sum(a != b for a, b in zip(labels, labels[1:])) == 1
    assert labels[0] == "neutral" and labels[-1] == "happy" and labels.index("happy") > SWITCH_FRAME
    for face in faces:
        assert face.confidence == pytest.approx(face.scores[face.label])
        assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-5)
        valence, arousal = valence_arousal([[face.scores[name] for name in CLASSES]])[0]
        assert (face.valence, face.arousal) == pytest.approx((valence, arousal), abs=1e-5)
        x, y, w, h = face.box
        assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480


def test_a_face_back_after_the_longest_miss_is_a_new_face(video):
    pipeline = StreamPipeline(max_missed_seconds=0.5)
    blank = np.full_like(video[0], 60)
    sequence = video[:10] + [blank] * 20 + video[10:20]  # 20 frames = 0.67 s without the face
    ids = [[face.face_id for face in pipeline.process(image, index / FPS)]
           for index, image in enumerate(sequence)]
    assert ids[:10] == [["face_1"]] * 10
    assert ids[10:30] == [[]] * 20
    assert ids[30:] == [["face_2"]] * 10
    assert len(pipeline.smoother) == 1  # face_1 was forgotten


def test_the_stream_pipeline_classifies_as_the_stream_nodes_are_configured():
    """StreamPipeline() (analyze_video, bench) and the nodes run with params.yaml must see faces alike."""
    params = node_params("emotion_classifier_node")
    classifier = StreamPipeline(detector="haar").classifier
    assert classifier.model_paths == (MODEL_PATH,) and not params["ensemble"]
    assert (classifier.flip_tta, classifier.zoom_tta, classifier.class_balance) == (
        params["flip_tta"], params["zoom_tta"], params["class_balance"])


def test_another_detector_can_be_named(video):
    faces = StreamPipeline(detector="haar").process(video[0], 0.0)
    assert [face.face_id for face in faces] == ["face_1"]


def test_the_stream_and_photo_pipelines_do_not_import_tensorflow():
    code = textwrap.dedent("""
        import sys
        import cv2
        from emotion_ros import analyze_image
        from emotion_ros.apps.bench import video_frames
        from emotion_ros.apps.samples import sample_photos, sample_video
        from emotion_ros.vision.stream import StreamPipeline
        pipeline = StreamPipeline()
        frames = video_frames(sample_video(), 5)
        faces = [pipeline.process(image, index / 30) for index, image in enumerate(frames)]
        assert sum(map(len, faces)) == 5, faces
        assert len(analyze_image(cv2.imread(str(sample_photos()[0])))) == 6
        print(sorted(name for name in ("tensorflow", "keras", "mtcnn") if name in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_bench_measures_the_stream_and_photo_pipelines(capsys):
    parser = argparse.ArgumentParser()
    add_bench_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "--pipelines", "stream", "photo", "--clip-frames", "2", "--json"])
    assert args.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 10 and report["frame_size"] == [640, 480]
    assert [result["pipeline"] for result in report["results"]] == ["stream", "photo"]
    for result in report["results"]:
        assert result["frames"] == 10
        assert result["fps"] > 0 and 0 < result["latency_p50_ms"] <= result["latency_p95_ms"]
        assert result["peak_rss_mib"] > report["frames_mib"]
        assert result["frames_with_one_face"] == 10


def test_bench_reports_fer_as_not_run_when_it_is_not_installed(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "fer" else find_spec(name))
    out = io.StringIO()
    assert run_bench(pipelines=["fer"], clip_frames=1, out=out) == 0
    table = out.getvalue()
    assert "| fer 25 (FER(mtcnn=False), Haar) | not run: not installed (pip install --no-deps fer) |" in table
    assert "as fast as fer" not in table
