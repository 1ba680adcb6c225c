"""Frames from a camera, a video file or a directory of photos, behind one `read()`.

A camera that is missing or unplugged is not an error: `read()` returns None and the source tries to
open it again after `retry_period`, so a node or a window keeps running until it comes back.
"""

import logging
import os
import time
from pathlib import Path

import cv2

from ..vision.images import photo_paths, read_photo

log = logging.getLogger(__name__)


def parse_source(source):
    """("camera", index or device path) | ("video", path) | ("photos", directory)."""
    text = str(source).strip()
    if text.isdigit():
        return "camera", int(text)
    if text.startswith("/dev/video"):
        return "camera", text
    path = Path(text).expanduser()
    if path.is_dir():
        return "photos", path
    if path.is_file():
        return "video", path
    raise FileNotFoundError(f"source {text!r} is neither a camera index, /dev/videoN, a video file nor a directory")


def _file_state(path):
    """(modification time, size) of a file, None when it is gone: a video that changed since it was opened."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class FrameSource:
    """`read()` gives the next BGR frame, or None when there is none now (camera away, end of files)."""

    def __init__(self, source, width=0, height=0, loop=True, retry_period=2.0):
        self.kind, self.target = parse_source(source)
        if self.kind == "camera":
            # FFmpeg (behind /dev/videoN paths) prints its own error on every retry of a missing camera; the
            # status line says it once. Read by OpenCV when it first loads FFmpeg; a value set before wins.
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
        self.width, self.height = width, height
        self.loop = loop
        self.retry_period = retry_period
        self.finished = False  # a file source reached its end without `loop`
        self.status = ""  # the last problem, for a log line
        self._capture = None
        self._file_state = None
        self._next_attempt = 0.0
        self._failed_attempts = 0  # in a row
        self.frames_read = 0
        self.last_photo = None  # the path of the photo read last (photo directories)
        self._photos = photo_paths(self.target) if self.kind == "photos" else []
        self._photo_index = 0
        if self.kind == "video" and not self._open():
            # A camera may come back; a file that OpenCV cannot read as a video never will.
            raise ValueError(f"cannot read {self.target} as a video (OpenCV found no video stream in it)")

    def read(self):
        if self.finished:
            return None
        if self.kind == "photos":
            return self._read_photo()
        if self._capture is None and not self._open():
            return None
        ok, frame = self._capture.read()
        if not ok and self.kind == "video" and self.loop and self._file_state == _file_state(self.target):
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if ok:
            self.frames_read += 1
            return frame
        if self.kind == "video" and not self.loop:
            self.finished = True
            self.status = f"end of video {self.target}"
        elif self.kind == "video":  # looping, and the file was cut, replaced or removed: open it again
            self.status = f"video {self.target} changed or vanished; reopening every {self.retry_period:g} s"
        else:
            self.status = f"camera {self.target} gave no frame (unplugged?); reopening"
        self.release()
        self._next_attempt = time.monotonic() + self.retry_period
        return None

    def _open(self):
        if time.monotonic() < self._next_attempt:
            return False
        if self._failed_attempts:  # OpenCV said why the first time; its lines every retry would flood the log
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        capture = cv2.VideoCapture(self.target if self.kind == "camera" else str(self.target))
        if self._failed_attempts:
            cv2.utils.logging.setLogLevel(level)
        if not capture.isOpened():
            capture.release()
            self._failed_attempts += 1
            self.status = f"cannot open {self.kind} {self.target}; retrying every {self.retry_period:g} s"
            self._next_attempt = time.monotonic() + self.retry_period
            return False
        self._failed_attempts = 0
        self._file_state = _file_state(self.target) if self.kind == "video" else None
        if self.kind == "camera" and self.width and self.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._capture = capture
        self.status = ""
        return True

    def _read_photo(self):
        for _ in range(len(self._photos)):
            if self._photo_index >= len(self._photos):
                if not self.loop:
                    self.finished = True
                    self.status = f"all {len(self._photos)} photos of {self.target} sent"
                    return None
                self._photo_index = 0
            path = self._photos[self._photo_index]
            self._photo_index += 1
            try:
                image = read_photo(path)
            except ValueError as error:
                log.warning("skipping photo %s: %s", path, error)
                continue
            self.frames_read += 1
            self.last_photo = path
            return image
        self.finished = True
        self.status = f"no readable photo in {self.target}"
        return None

    def release(self):
        if self._capture is not None:
            self._capture.release()
            self._capture = None
