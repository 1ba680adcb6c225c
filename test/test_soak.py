"""A short soak of the live path: the four nodes on a looping video keep pace with it, window after window."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")

from conftest import DOMAIN_ID  # noqa: E402

from emotion_ros.apps.samples import sample_video  # noqa: E402


def test_live_path_holds_its_rate_and_face_id():
    result = subprocess.run(
        [sys.executable, "-m", "emotion_ros.apps.cli", "soak", "--source", str(sample_video()), "--seconds", "40",
         "--window", "10"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    assert result.returncode == 0, result.stderr
    windows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(windows) == 4
    for window in windows:
        assert window["input_fps"] > 12  # params.yaml asks camera_node for 15
        assert window["emotion_arrays_per_s"] >= 0.9 * window["input_fps"], window
    assert {face_id for window in windows for face_id in window["face_ids"]} == {"face_1"}  # one face, one id
    assert windows[-1]["rss_mib"] < 1.2 * windows[0]["rss_mib"]
    assert "4 windows of 10 s" in result.stdout
