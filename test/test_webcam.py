"""The laptop demo without a display: the sample video read by OpenCV stands in for the camera."""

import argparse
import contextlib
import io
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_emoji_render import chromatic_fraction

from emotion_ros.classes import CLASSES
from emotion_ros.config import load_params
from emotion_ros.apps.samples import sample_video
from emotion_ros.social.policy import SocialResponse
from emotion_ros.results import FaceEmotion
from emotion_ros.vision.drawing import CLASS_COLOURS, text_font
from emotion_ros.apps.webcam import (
    EMOJI_SIZE, HeadState, add_webcam_parser, draw_overlay, make_policy, make_stream_pipeline, run_webcam, wrap_text)

FRAMES = 40
FRENCH_QUESTION = "Qu'est-ce qui vous a autant réjoui aujourd'hui ? À quoi pensez-vous, là ?"
LONG_QUESTION = ("Vous avez l'air en colère. Voulez-vous me raconter ce qui s'est passé, "
                 "et ce que je pourrais faire pour que ça aille mieux ?")
EMOJI_LINE = re.compile(r"^ *(\d+\.\d+) s  emoji (\S+)  (\w+) \((face_\d+)\)$")


def video_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def emoji_corner(image):
    width = image.shape[1]
    return image[10 : 10 + EMOJI_SIZE, width - 10 - EMOJI_SIZE : width - 10]


def ink_rows(image):
    """Indices of the rows holding near-white pixels: the caption text on its darkened band."""
    return np.flatnonzero(np.any(image.min(axis=2) > 200, axis=1))


@pytest.fixture(scope="module")
def quick_dwell(tmp_path_factory):
    """params.yaml's dwell_time (1 s) would need 30 frames of one stable label; 0.2 s needs 6."""
    path = tmp_path_factory.mktemp("params") / "quick_dwell.yaml"
    path.write_text("social_response_node:\n  ros__parameters:\n    dwell_time: 0.2\n")
    return path


@pytest.fixture(scope="module")
def recorded(quick_dwell, tmp_path_factory):
    """(printed lines, recorded frames) of the demo run headless on the first FRAMES frames."""
    out = tmp_path_factory.mktemp("webcam") / "webcam.mp4"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run_webcam(str(sample_video()), params_files=[quick_dwell], max_frames=FRAMES,
                          show_window=False, record=out)
    assert code == 0
    return stdout.getvalue().splitlines(), video_frames(out)


def test_the_recording_has_one_annotated_frame_per_camera_frame(recorded):
    _, frames = recorded
    raw = video_frames(sample_video())
    assert len(frames) == FRAMES
    assert all(frame.shape == raw[0].shape for frame in frames)
    assert np.mean(cv2.absdiff(frames[-1], raw[FRAMES - 1])) > 2  # boxes, emoji, caption drawn over it


def test_the_main_face_emoji_shows_in_the_corner_once_its_emotion_has_dwelt(recorded):
    printed, frames = recorded
    emoji_lines = [EMOJI_LINE.match(line) for line in printed]
    shown = [match for match in emoji_lines if match]
    assert printed[0].split() == ["0.00", "s", "emoji", "🤖", "idle"]
    assert shown and all(match[3] in CLASSES for match in shown)
    assert float(shown[0][1]) >= 0.2
    raw_corner, corner = emoji_corner(video_frames(sample_video())[FRAMES - 1]), emoji_corner(frames[-1])
    assert np.mean(cv2.absdiff(corner, raw_corner)) > 40
    assert chromatic_fraction(corner) > 0.25  # a colour emoji, after mp4v compression
    assert chromatic_fraction(corner) > chromatic_fraction(emoji_corner(frames[0])) + 0.1  # not the robot


def test_the_question_asked_stays_as_a_caption(recorded):
    printed, frames = recorded
    assert any(line.split("question: ")[-1].strip() for line in printed if " question: " in line)
    raw = video_frames(sample_video())[FRAMES - 1]
    bottom = slice(raw.shape[0] - 30, raw.shape[0])
    assert frames[-1][bottom].mean() < raw[bottom].mean() * 0.7  # the darkened band
    assert len(ink_rows(frames[-1][bottom])) > 5


def test_a_file_replays_the_same_emoji_and_questions(recorded, quick_dwell, capsys):
    run_webcam(str(sample_video()), params_files=[quick_dwell], max_frames=FRAMES, show_window=False)
    assert capsys.readouterr().out.splitlines() == recorded[0]


def test_the_webcam_takes_the_face_detection_nodes_min_face_size(tmp_path):
    frames = video_frames(sample_video())[:3]
    default = make_stream_pipeline(load_params())
    assert any(default.process(frame, index / 30) for index, frame in enumerate(frames))

    too_large = tmp_path / "only_huge_faces.yaml"
    too_large.write_text("face_detection_node:\n  ros__parameters:\n    min_face_size: 2000\n")
    only_huge = make_stream_pipeline(load_params(too_large))
    assert not any(only_huge.process(frame, index / 30) for index, frame in enumerate(frames))


def test_overlay_draws_french_captions_emoji_and_frame_rate_on_a_copy():
    frame = np.full((360, 640, 3), 110, np.uint8)
    canvas = draw_overlay(frame, [], HeadState(emoji="😄", question=FRENCH_QUESTION), fps=29.7)
    assert canvas.shape == frame.shape and canvas.dtype == np.uint8
    assert np.all(frame == 110)
    assert chromatic_fraction(emoji_corner(canvas)) > 0.3
    assert np.any(canvas[:40, :120] != 110)  # the frame rate
    assert len(ink_rows(canvas[250:])) > 10 and len(ink_rows(canvas[120:250])) == 0
    unaccented = FRENCH_QUESTION.replace("é", "e").replace("À", "A").replace("à", "a")
    plain = draw_overlay(frame, [], HeadState(question=unaccented), fps=0)
    assert not np.array_equal(canvas[250:], plain[250:])


def test_a_long_question_is_wrapped_to_the_frame():
    frame = np.full((360, 480, 3), 110, np.uint8)
    short = draw_overlay(frame, [], HeadState(question="Ça va ?"), fps=0)
    long = draw_overlay(frame, [], HeadState(question=LONG_QUESTION), fps=0)
    short_rows, long_rows = ink_rows(short), ink_rows(long)
    line_spacing = short_rows.max() - short_rows.min()  # one line: accent or cedilla included
    assert long_rows.max() - long_rows.min() > 2 * line_spacing  # three lines or more
    assert not np.any(long[:, :5].min(axis=2) > 200) and not np.any(long[:, -5:].min(axis=2) > 200)


def test_french_punctuation_never_starts_a_line():
    font = text_font(20)
    lines = wrap_text(LONG_QUESTION, font, 150)
    assert len(lines) > 3
    assert " ".join(lines) == LONG_QUESTION
    assert not any(line[0] in "?!:;" for line in lines)
    assert all(font.getlength(line) <= 150 for line in lines if " " in line)


def test_the_last_question_is_kept_for_a_few_seconds_then_cleared():
    head = HeadState(question_hold=3.0)

    def step(stamp, question=None):
        head.update(SocialResponse("😄", "happy", "face_1", False, question, "en"), stamp)
        return head.question

    assert step(0.0) == ""
    assert step(1.0, "Good news?") == "Good news?"
    assert step(3.9) == "Good news?"
    assert step(4.1) == ""
    assert head.emoji == "😄"


def test_a_missing_camera_is_reported_once_retried_and_the_run_fails(tmp_path):
    """As a user runs it, in a fresh process: OpenCV and FFmpeg load their settings once per process."""
    quick_retries = tmp_path / "retries.yaml"
    quick_retries.write_text("camera_node:\n  ros__parameters:\n    retry_period: 0.01\n")
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "webcam", "--source", "/dev/video99",
                             "--no-window", "--max-frames", "30", "--params-file", str(quick_retries)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("/dev/video99") == 2  # 30 tries: no library's own lines, ours once each
    assert "cannot open camera /dev/video99; retrying every 0.01 s" in result.stderr
    assert result.stderr.strip().endswith("no frame from camera /dev/video99: is it plugged in, and not used by "
                                          "another program?")


def test_a_window_without_a_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ValueError, match="--no-window"):
        run_webcam(str(sample_video()), max_frames=1)


def test_webcam_command_line(capsys):
    parser = argparse.ArgumentParser(prog="emotion-ros")
    add_webcam_parser(parser.add_subparsers())
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["webcam", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--source", "--language", "--prompts-file", "--params-file", "--max-frames", "--no-window",
                   "--record"):
        assert option in help_text
    args = parser.parse_args(["webcam", "--source", "1", "--language", "fr", "--params-file", "a.yaml",
                              "--params-file", "b.yaml", "--max-frames", "5", "--no-window"])
    assert (args.source, args.language, args.params_file, args.max_frames, args.no_window, args.record) == (
        "1", "fr", ["a.yaml", "b.yaml"], 5, True, None)
    assert callable(args.run)


def test_the_head_shows_the_emotion_behind_its_emoji_and_the_one_on_its_way():
    frame = np.full((360, 640, 3), 110, np.uint8)
    shown = draw_overlay(frame, [], HeadState(emoji="😄", emotion="happy"), fps=0)
    waiting = draw_overlay(frame, [], HeadState(emoji="😄", emotion="happy", pending=("sad", 0.5)), fps=0)
    below_emoji = (slice(EMOJI_SIZE + 12, EMOJI_SIZE + 80), slice(640 - EMOJI_SIZE - 10, 640 - 10))
    drawn_rows = [np.any(canvas[below_emoji] != 110, axis=(1, 2)).sum() for canvas in (frame, shown, waiting)]
    assert drawn_rows[0] == 0 and drawn_rows[1] > 8  # "happy" under the emoji
    assert drawn_rows[2] > drawn_rows[1] + 15  # and the bar and "→ sad" under it
    bar = np.all(waiting == CLASS_COLOURS["sad"], axis=2)[:, 640 - EMOJI_SIZE - 10 :]
    assert EMOJI_SIZE * 0.4 < bar.sum(axis=1).max() < EMOJI_SIZE * 0.6  # half the dwell time: half the bar


def test_the_policy_says_which_emotion_dwells_and_how_far():
    policy = make_policy(load_params(), language="en")
    happy, sad = (FaceEmotion(box=(10, 10, 80, 80), label=label, confidence=0.9, scores={}, face_id="face_1")
                  for label in ("happy", "sad"))
    policy.update(0.0, [happy])
    assert policy.dwell_progress(0.5) == ("happy", 0.5)
    policy.update(1.0, [happy])  # shown after the dwell time
    assert policy.dwell_progress(1.0) is None
    policy.update(1.2, [sad])
    assert policy.dwell_progress(1.45) == ("sad", 0.25)
