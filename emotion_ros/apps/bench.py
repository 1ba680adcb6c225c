"""`emotion-ros bench`: speed and memory of the stream pipeline, the photo pipeline and `fer`, same frames.

The frames are 640x480 with one face: the sample video letterboxed, and each posed sample photo moving
across a plain background while it grows, as a face walking towards a camera. Each pipeline runs in its
own process, so that its peak memory is its own. `fer` (`pip install --no-deps fer`, an optional extra,
not a dependency) is measured when it is installed.
"""

import importlib.util
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context

import cv2
import numpy as np

from .samples import SAMPLE_PHOTOS, sample_photos, sample_video

FRAME_SIZE = (640, 480)  # width, height
STREAM_FPS = 30.0
PIPELINES = ("stream", "photo", "photo_mtcnn", "fer")
DESCRIPTIONS = {
    "stream": "stream pipeline (blazeface_stream + tracking + smoothing)",
    "photo": "photo pipeline (BlazeFace, 3 models x 4 views per face)",
    "photo_mtcnn": "photo pipeline with MTCNN",
    "fer": "fer 25 (FER(mtcnn=False), Haar)",
}


def letterbox(image, size=FRAME_SIZE):
    """`image` scaled to fit `size` (width, height), centred on black."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return canvas


def panning_clip(photo, frames=30, size=FRAME_SIZE, start_side=220, end_side=380):
    """A face photo moving left to right (bobbing up and down) and growing, on its mean border colour."""
    width, height = size
    border = np.concatenate([photo[0], photo[-1], photo[:, 0], photo[:, -1]])
    background = border.mean(axis=0).astype(np.uint8)
    clip = []
    for index in range(frames):
        progress = index / max(1, frames - 1)
        side = round(start_side + (end_side - start_side) * progress)
        face = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        left = round((width - side) * progress)
        top = round((height - side) * (0.5 + 0.4 * np.sin(2 * np.pi * progress)))
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = background
        frame[top : top + side, left : left + side] = face
        clip.append(frame)
    return clip


def video_frames(path, limit=None):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(letterbox(frame))
    capture.release()
    return frames


def posed_photos():
    """Paths of the sample photos of one posed face."""
    return [path for path, (_, _, shows) in zip(sample_photos(), SAMPLE_PHOTOS) if shows.startswith("posed")]


def bench_clips(clip_frames=None):
    """[(name, frames)]: the sample video and a panning clip of each posed photo."""
    clips = [("video", video_frames(sample_video(), clip_frames))]
    for path in posed_photos():
        clips.append((f"pan {path.stem}", panning_clip(cv2.imread(str(path)), clip_frames or 30)))
    return clips


def _make_analyzer(pipeline):
    """A function (frame, stamp) -> number of faces found, for one pipeline."""
    if pipeline == "stream":
        from ..vision.stream import StreamPipeline

        stream = StreamPipeline()
        return lambda frame, stamp: len(stream.process(frame, stamp))
    if pipeline in ("photo", "photo_mtcnn"):
        from ..vision.pipeline import PhotoPipeline

        photo = PhotoPipeline("mtcnn" if pipeline == "photo_mtcnn" else "blazeface")
        return lambda frame, stamp: len(photo.analyze(frame))
    from fer.fer import FER  # fer 25 does not export FER from the package

    from ..vision.litert import native_stderr_silenced

    with native_stderr_silenced():  # its TFLite interpreter announces XNNPACK when it loads
        fer = FER(mtcnn=False)
        fer.detect_emotions(np.zeros((480, 640, 3), np.uint8))
    return lambda frame, stamp: len(fer.detect_emotions(frame))


_worker = {}  # in a worker process: its pipeline's analyzer and the bench clips


def _start_worker(pipeline, clip_frames):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _worker["clips"] = [clip for _, clip in bench_clips(clip_frames)]
    try:
        _worker["analyze"] = _make_analyzer(pipeline)
    except ImportError as error:
        _worker["error"] = f"cannot import: {error}"
        return
    _worker["analyze"](_worker["clips"][0][0], -1.0 / STREAM_FPS)  # builds lazily initialised graphs


def _worker_error():
    return _worker.get("error")


def _time_clip(clip_index, first_frame):
    """(seconds, faces found) of each frame of one clip; stamps go on from the previous clips."""
    timings = []
    for index, frame in enumerate(_worker["clips"][clip_index]):
        start = time.perf_counter()
        found = _worker["analyze"](frame, (first_frame + index) / STREAM_FPS)
        timings.append((time.perf_counter() - start, found))
    return timings


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def summarize(pipeline, timings, peak_rss_mib):
    seconds = np.array([elapsed for elapsed, _ in timings])
    return {
        "pipeline": pipeline,
        "frames": len(timings),
        "fps": len(timings) / float(seconds.sum()),
        "latency_p50_ms": float(np.percentile(seconds, 50) * 1000.0),
        "latency_p95_ms": float(np.percentile(seconds, 95) * 1000.0),
        "peak_rss_mib": peak_rss_mib,
        "frames_with_one_face": sum(found == 1 for _, found in timings),
    }


def measure(pipelines, clip_lengths, clip_frames=None):
    """One result per pipeline, each run in its own process, taking turns clip by clip.

    Taking turns spreads the load of other programs over all pipelines alike, which keeps their
    speed ratio meaningful on a busy machine.
    """
    with ExitStack() as stack:
        workers = {
            pipeline: stack.enter_context(ProcessPoolExecutor(
                max_workers=1, mp_context=get_context("spawn"), initializer=_start_worker,
                initargs=(pipeline, clip_frames)))
            for pipeline in pipelines
        }
        errors = {pipeline: worker.submit(_worker_error) for pipeline, worker in workers.items()}
        errors = {pipeline: error.result() for pipeline, error in errors.items()}  # all started now
        running = [pipeline for pipeline in pipelines if not errors[pipeline]]
        timings = {pipeline: [] for pipeline in running}
        first_frame = 0
        for clip_index, length in enumerate(clip_lengths):
            for pipeline in running:
                timings[pipeline] += workers[pipeline].submit(_time_clip, clip_index, first_frame).result()
            first_frame += length
        return [
            summarize(pipeline, timings[pipeline], workers[pipeline].submit(_peak_rss_mib).result())
            if pipeline in timings else {"pipeline": pipeline, "error": errors[pipeline]}
            for pipeline in pipelines
        ]


def markdown_table(report):
    lines = [
        "| pipeline | frames/s | latency p50 (ms) | latency p95 (ms) | peak RSS (MiB) "
        "| frames with one face |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in report["results"]:
        name = DESCRIPTIONS[result["pipeline"]]
        if "error" in result:
            lines.append(f"| {name} | not run: {result['error']} | | | | |")
            continue
        lines.append(
            f"| {name} | {result['fps']:.1f} | {result['latency_p50_ms']:.1f} "
            f"| {result['latency_p95_ms']:.1f} | {result['peak_rss_mib']:.0f} "
            f"| {result['frames_with_one_face']}/{result['frames']} |"
        )
    lines.append("")
    lines.append(f"{report['frames']} frames of {FRAME_SIZE[0]}x{FRAME_SIZE[1]} with one face "
                 f"({', '.join(report['clips'])}); {report['cpu_count']} CPU cores, load average "
                 f"{report['load_average']:.1f} at the start. Peak RSS includes the frames held in memory "
                 f"({report['frames_mib']:.0f} MiB).")
    if "stream_vs_fer" in report:
        lines.append(f"The stream pipeline is {report['stream_vs_fer']:.1f}x as fast as fer.")
    return "\n".join(lines)


def run_bench(pipelines=PIPELINES, clip_frames=None, as_json=False, out=None):
    """Measure each pipeline (fer only when installed), print a Markdown table or JSON; exit code 0."""
    if clip_frames is not None and clip_frames < 1:
        raise ValueError(f"--clip-frames must be at least 1, got {clip_frames}")
    out = out or sys.stdout
    clips = bench_clips(clip_frames)
    frames = sum(len(clip) for _, clip in clips)
    report = {
        "frames": frames,
        "frame_size": list(FRAME_SIZE),
        "clips": [name for name, _ in clips],
        "frames_mib": sum(frame.nbytes for _, clip in clips for frame in clip) / 2**20,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "results": [],
    }
    if "fer" in pipelines and importlib.util.find_spec("fer") is None:
        pipelines = [pipeline for pipeline in pipelines if pipeline != "fer"]
        report["results"].append({"pipeline": "fer", "error": "not installed (pip install --no-deps fer)"})
    report["results"] = measure(pipelines, [len(clip) for _, clip in clips], clip_frames) + report["results"]
    fps = {result["pipeline"]: result["fps"] for result in report["results"] if "fps" in result}
    if "stream" in fps and "fer" in fps:
        report["stream_vs_fer"] = fps["stream"] / fps["fer"]
    print(json.dumps(report, indent=2) if as_json else markdown_table(report), file=out)
    return 0


def add_bench_parser(subparsers):
    parser = subparsers.add_parser(
        "bench", help="frames per second, latency and memory of the stream and photo pipelines (and fer)",
        description="Run the stream pipeline, the photo pipeline (BlazeFace, and with MTCNN) and, when installed, "
                    "fer on the same 640x480 frames made from the sample video and photos, each in its own process, "
                    "and print frames per second, latency p50/p95 and peak memory as a Markdown table.")
    parser.add_argument("--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES),
                        help="which to measure (default: all)")
    parser.add_argument("--clip-frames", type=int, metavar="N",
                        help="frames per clip (default: the whole video and 30 per photo)")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.set_defaults(run=lambda args: run_bench(args.pipelines, args.clip_frames, args.json))
