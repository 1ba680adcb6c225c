"""The `emotion-ros` command as a user runs it."""

import json
import subprocess
import sys

import cv2
import pytest

from emotion_ros import CLASSES
from emotion_ros.apps.cli import build_parser
from emotion_ros.apps.samples import sample_photos


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
    result = emotion_ros("analyze", str(group), str(broken), str(second_group), "--out", str(tmp_path / "out"),
                         "--json")
    assert result.returncode == 1  # one photo could not be read; the others are still analysed
    assert "broken.jpg: cannot read" in result.stderr
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
