"""The README's commands, run as written, in order, in a fresh folder: a command that stops working fails here.

A few lines cannot run here and are named with the reason: the `make` targets are what CI itself runs,
the `pip install` lines are what `make setup` runs, a webcam needs a camera and a screen, and `ros2` is
not on PyPI (those lines run where the ROS 2 command line is installed).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN_HERE = {
    "make ": "what CI runs (make test) and make setup's first step",
    "pip install": "what make setup installs, into the virtualenv the tests run in",
    "emotion-ros webcam --source 0": "needs a camera and a screen",
}


def readme_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def readme_commands():
    """Every line of the README's sh blocks, its comment removed."""
    lines = []
    for block in readme_blocks("sh"):
        for line in block.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def test_the_readme_has_the_three_paths_and_its_commands_are_classified():
    commands = readme_commands()
    assert any(c.startswith("emotion-ros analyze") for c in commands)
    assert any(c.startswith("emotion-ros bringup") for c in commands)
    assert any(c.startswith("emotion-ros bag analyze") for c in commands)
    assert ". ./shell.sh" in commands
    assert len(readme_blocks("python")) == 1


def test_readme_commands_run_as_written(tmp_path):
    """Until `. ./shell.sh`, as after the README's pip lines: rclpy, the messages and TensorFlow cannot be
    imported (a sitecustomize blocks them, and the colcon install is off the path); after it, the ROS shell."""
    pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")
    pip_only = tmp_path / "pip_only"
    pip_only.mkdir()
    (pip_only / "sitecustomize.py").write_text(
        "import sys\nfor name in ('rclpy', 'tensorflow', 'keras', 'mtcnn', 'emotion_ros.msg'):\n"
        "    sys.modules[name] = None  # any import of it raises ImportError, as without ROS and TensorFlow\n")
    script, skipped = ["set -e", f"cd {tmp_path}", f"export PYTHONPATH={pip_only}"], []
    for command in readme_commands():
        reason = next((why for start, why in NOT_RUN_HERE.items() if command.startswith(start)), None)
        if command.startswith("ros2 ") and shutil.which("ros2") is None:
            reason = "the ROS 2 command line is not installed (not on PyPI)"
        if reason:
            skipped.append((command, reason))
            continue
        if command == ". ./shell.sh":  # in the repository, as the README says, then back
            script += ["unset PYTHONPATH", f"cd {ROOT}", command, f"cd {tmp_path}"]
            continue
        script += [f"echo '$ {command}'", command]
        if command.startswith("emotion-ros samples"):
            python = tmp_path / "readme_example.py"
            python.write_text(readme_blocks("python")[0])
            script += [f"{sys.executable} {python}"]
    env = {**os.environ, "ROS_DOMAIN_ID": "77"}
    result = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "XNNPACK" not in result.stdout + result.stderr  # analyze, bringup, bag analyze: no library chatter
    assert (tmp_path / "analyzed").is_dir() and list((tmp_path / "analyzed").glob("*_emotions.json"))
    assert list((tmp_path / "analyzed").glob("*_timeline.png"))  # the video
    assert (tmp_path / "annotated").is_dir() and list((tmp_path / "annotated").glob("*.jpg"))
    rows = (tmp_path / "emotions.csv").read_text().splitlines()
    assert len(rows) > 6  # a header and one row per face of the six photos (two group photos)
    assert re.search(r"face_0 \w+ 0\.\d\d \{", result.stdout)  # the Python example's printed faces
    assert {command for command, _ in skipped} <= {c for c in readme_commands()
                                                    if c.startswith(("make ", "pip ", "ros2 ", "emotion-ros webcam"))}
