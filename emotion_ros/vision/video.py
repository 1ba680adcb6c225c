"""Videos analysed like photos: every face of every (N-th) frame with the stream pipeline (a face keeps its
id while in view, its probabilities are smoothed over time), as table rows, an annotated video and a
timeline of each face's emotion."""

import csv

import cv2

from ..classes import CLASSES
from ..paths import atomic_output
from .drawing import draw_faces
from .stream import StreamPipeline

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
# One row per face: where it is, what it shows, the seven probabilities and the circumplex summary.
FACE_COLUMNS = ("face_id", "x", "y", "w", "h", "label", "confidence", *(f"score_{name}" for name in CLASSES),
                "valence", "arousal")
VIDEO_COLUMNS = ("frame", "time", *FACE_COLUMNS)


def face_rows(faces, **context):
    """One dict per FaceEmotion, `context` (frame and time, or the photo) first."""
    rows = []
    for face in faces:
        x, y, w, h = (int(v) for v in face.box)
        rows.append({**context, "face_id": face.face_id, "x": x, "y": y, "w": w, "h": h, "label": face.label,
                     "confidence": round(float(face.confidence), 6),
                     **{f"score_{name}": round(float(face.scores[name]), 6) for name in CLASSES},
                     "valence": round(float(face.valence), 6), "arousal": round(float(face.arousal), 6)})
    return rows


def video_frames(path, every=1):
    """(frame index, seconds, BGR frame) of every `every`-th frame of a video file, and its frame count."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"cannot read {path} as a video (OpenCV found no video stream in it)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if 0 < fps < 1000 else 30.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def frames():
        index = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                if index % every == 0:
                    yield index, index / fps, frame
                index += 1
        finally:
            capture.release()

    return frames(), fps, total


def analyze_video(path, every=1, pipeline=None, annotated_path=None, progress=None, dataframe=False):
    """One row per face per analysed frame (VIDEO_COLUMNS): `every` N-th frame, with the stream pipeline
    (StreamPipeline(), the live defaults, unless given). With `annotated_path`, the analysed frames with
    their faces drawn are written there as an mp4 video. `progress` is called with the frames done and the
    total after each frame. A pandas DataFrame with `dataframe` (pandas must be installed)."""
    if every < 1:
        raise ValueError(f"every must be 1 or more, not {every}")
    frames, fps, total = video_frames(path, every)
    pipeline = pipeline or StreamPipeline()
    rows, writer = [], None
    with atomic_output(annotated_path) as annotated:
        try:
            for index, seconds, frame in frames:
                faces = pipeline.process(frame, seconds)
                rows += face_rows(faces, frame=index, time=round(seconds, 4))
                if annotated:
                    if writer is None:
                        writer = cv2.VideoWriter(str(annotated), cv2.VideoWriter_fourcc(*"mp4v"), fps / every,
                                                 (frame.shape[1], frame.shape[0]))
                        if not writer.isOpened():
                            raise ValueError(f"cannot write an mp4 video to {annotated_path}")
                    writer.write(draw_faces(frame, faces))
                if progress:
                    progress(index + 1, total)
        finally:
            if writer is not None:
                writer.release()
    if dataframe:
        import pandas

        return pandas.DataFrame(rows, columns=list(VIDEO_COLUMNS))
    return rows


def write_rows(rows, path, columns):
    """The rows as a CSV table, written whole or not at all."""
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        table = csv.DictWriter(handle, fieldnames=list(columns))
        table.writeheader()
        table.writerows(rows)


def plot_timeline(rows, png_path, title=""):
    """Each face's emotion over the video's time, one colour per face, written whole or not at all."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 3.5))
    for face_id in dict.fromkeys(row["face_id"] for row in rows):
        points = [(row["time"], CLASSES.index(row["label"])) for row in rows if row["face_id"] == face_id]
        axis.plot(*zip(*points), marker="o", markersize=3, linewidth=1, drawstyle="steps-post", label=face_id)
    axis.set_yticks(range(len(CLASSES)), CLASSES)
    axis.set_ylim(-0.5, len(CLASSES) - 0.5)
    axis.set_xlabel("seconds")
    axis.set_title(title or "emotion of each face over time")
    axis.grid(alpha=0.3)
    if rows:
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    with atomic_output(png_path) as temporary:
        figure.savefig(temporary, dpi=100, format="png")
    plt.close(figure)
