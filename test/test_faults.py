"""Faults a robot meets, each with one clear line and the right outcome: node executables that refuse a bad
parameter or source at start (no traceback), files that fail fast, results that are never overwritten."""

import os
import subprocess
import sys

import cv2
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")

from conftest import DOMAIN_ID  # noqa: E402

from emotion_ros.apps.samples import sample_photos  # noqa: E402

POSED_SURPRISE = sample_photos()[2]


def run_node(module, *ros_args, timeout=60):
    """`python -m emotion_ros.nodes.<module> --ros-args ...`; a node still running after `timeout` fails the test."""
    command = [sys.executable, "-m", f"emotion_ros.nodes.{module}", "--ros-args", *ros_args]
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("module, ros_args, message", [
    ("camera_node", ["-p", "fps:=-5.0"], "parameter fps of camera_node must be between 0.01 and 240.0, not -5.0"),
    ("camera_node", ["-p", "source:=/no/such/folder"], "source '/no/such/folder' is neither a camera index"),
    ("emotion_classifier_node", ["-p", "image_cache_size:=-1"],
     "parameter image_cache_size of emotion_classifier_node must be between 1 and 100, not -1"),
    ("emotion_classifier_node", ["-p", "face_margin:=.inf"],
     "parameter face_margin of emotion_classifier_node must be a finite number, not inf"),
    ("social_response_node", ["-p", "language:=de"],
     "parameter language of social_response_node must be one of en, fr (prompts_file takes a table of your own)"),
    ("social_response_node", ["-p", "dwell_time:=soon"],
     "parameter dwell_time of social_response_node must be a number, not 'soon' (a string)"),
    ("social_response_node", ["-p", "emoji_image_size:=1000000000"],
     "parameter emoji_image_size of social_response_node must be between 16 and 1024, not 1000000000"),
    ("face_detection_node", ["-p", "detect_every:=0"],
     "parameter detect_every of face_detection_node must be between 1"),
])
def test_a_node_refuses_a_bad_start_with_one_line(module, ros_args, message):
    result = run_node(module, *ros_args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_camera_node_fails_at_once_on_a_file_that_is_not_a_video(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is text, not a video")
    result = run_node("camera_node", "-p", f"source:={fake}", timeout=30)
    assert result.returncode == 1
    assert f"cannot read {fake} as a video" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_photo_folder_gives_one_clear_line_in_bringup(tmp_path):
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--source", str(tmp_path)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    assert result.returncode == 1
    assert f"emotion-ros bringup: no photos (.jpg, .jpeg, .png, .bmp, .webp) in {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr and "AttributeError" not in result.stderr


def test_bringup_names_the_annotated_images_after_their_photos(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "annotated"
    photos.mkdir()
    for name, photo in (("alice.jpg", sample_photos()[2]), ("bob.png", sample_photos()[3])):
        cv2.imwrite(str(photos / name), cv2.imread(str(photo)))
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--source", str(photos),
                             "--params-file", "config/photos.yaml", "--out", str(out), "--max-seconds", "60"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    assert result.returncode == 0, result.stderr
    assert "done: 2 image(s) sent, 2 emotion array(s) received" in result.stdout
    assert sorted(path.name for path in out.iterdir()) == ["alice_emotions.jpg", "bob_emotions.jpg"]


def test_malformed_params_file_is_named_before_ros_starts(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("camera_node: [fps: 3\n")
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--source", str(tmp_path),
                             "--params-file", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"emotion-ros bringup: {broken}: not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_analyze_never_overwrites_a_result_with_another_photos(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "face.jpg").write_bytes(POSED_SURPRISE.read_bytes())
    (tmp_path / "b" / "face.jpg").write_bytes(cv2.imencode(".jpg", cv2.flip(cv2.imread(str(POSED_SURPRISE)), 1))[1])
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "analyze", str(tmp_path / "a/face.jpg"),
                             str(tmp_path / "b/face.jpg"), str(tmp_path / "missing.jpg"), "--detector", "haar",
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1  # one input was missing
    assert f"{tmp_path / 'missing.jpg'}: no such file; skipped" in result.stderr
    assert sorted(path.name for path in out.iterdir()) == [
        "face_2_emotions.jpg", "face_2_emotions.json", "face_emotions.jpg", "face_emotions.json"]
    assert cv2.imread(str(out / "face_emotions.jpg")).tolist() != cv2.imread(str(out / "face_2_emotions.jpg")).tolist()


def test_export_needs_an_explicit_destination():
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "export", "some.keras"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "the following arguments are required: --out-dir" in result.stderr


@pytest.mark.parametrize("signal_number", [2, 15], ids=["SIGINT", "SIGTERM"])
def test_bringup_stops_cleanly_on_a_signal(signal_number):
    """Live video: after Ctrl-C or SIGTERM the process ends at once, with no thread dying under a callback."""
    from emotion_ros.apps.samples import sample_video

    process = subprocess.Popen([sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--source",
                                str(sample_video())], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    try:
        for line in process.stdout:
            if line.startswith("image 5 "):
                break
        process.send_signal(signal_number)
        _, errors = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Traceback" not in errors and "Exception in thread" not in errors


def test_bringup_quiet_prints_only_the_heads_emoji_and_questions(tmp_path):
    (tmp_path / "face.jpg").write_bytes(POSED_SURPRISE.read_bytes())
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--source", str(tmp_path),
                             "--params-file", "config/photos.yaml", "--quiet", "--max-seconds", "60"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not any(line.startswith("image ") or line.startswith("  face_") for line in lines), lines
    assert any(line.startswith("  emoji ") for line in lines) and any("question:" in line for line in lines)
    assert "done: 1 image(s) sent, 1 emotion array(s) received" in result.stdout


def test_a_node_names_the_parameter_file_of_a_wrong_value_and_refuses_a_huge_file_before_rcl(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("social_response_node:\n  ros__parameters:\n    dwell_time: soon\n")
    result = run_node("social_response_node", "--params-file", str(mine))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"dwell_time of social_response_node must be a number, not 'soon' (a string) (parameter files: {mine})" \
        in result.stderr
    huge = tmp_path / "huge.yaml"
    huge.write_text("face_detection_node:\n  ros__parameters:\n" + "".join(f"    k{i}: {i}\n" for i in range(90_000)))
    result = run_node("face_detection_node", "--params-file", str(huge), timeout=30)
    assert result.returncode == 1 and "more than a parameter file's 1048576" in result.stderr
