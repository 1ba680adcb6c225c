"""`emotion-ros soak`: the four nodes on a looping video for minutes, to show that the live path holds its
rate, keeps one face id for one face and does not grow in memory; `emotion-ros soak --bursts`: what a
flood of faces and a huge frame cost the nodes, with the shipped limits (max_faces, max_image_side)."""

import json
import resource
import time
from collections import deque

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time
from sensor_msgs.msg import Image, RegionOfInterest
from std_msgs.msg import Header

from ..msg import EmotionArray
from ..nodes.bringup import make_nodes, ros_arguments, spin_in_threads, stop_on_signals, stop_threads
from ..nodes.common import use_shipped_dds_profile


class SoakMonitor(Node):
    """Records when each EmotionArray arrives, how late it is behind its image, and its face ids."""

    def __init__(self):
        super().__init__("soak_monitor")
        self.arrivals = deque()  # (monotonic seconds, latency seconds, face ids), since the window began
        self.create_subscription(EmotionArray, "emotions", self.on_emotions, 10)

    def on_emotions(self, msg):
        latency = (self.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds * 1e-9
        self.arrivals.append((time.monotonic(), latency, [emotion.face_id for emotion in msg.emotions]))


def rss_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def summarize_window(index, start, end, arrivals, frames_in, rss):
    window = [a for a in arrivals if start <= a[0] < end]
    latencies = np.array([a[1] for a in window]) * 1000 if window else np.zeros(1)
    return {
        "window": index + 1,
        "input_fps": round(frames_in / (end - start), 2),
        "emotion_arrays_per_s": round(len(window) / (end - start), 2),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "face_ids": sorted({face_id for a in window for face_id in a[2]}),
        "rss_mib": round(rss, 1),
    }


def soak(source, seconds, window=60.0, params_files=(), echo=print):
    """Run the four nodes on `source` for `seconds`; return one summary per `window` of seconds."""
    arguments = ros_arguments(params_files)
    use_shipped_dds_profile()
    stop = stop_on_signals()
    rclpy.init(args=arguments, signal_handler_options=SignalHandlerOptions.NO)
    nodes, executors, windows = [], [], []
    try:
        nodes, camera = make_nodes(source)
        monitor = SoakMonitor()
        nodes.append(monitor)
        executors = spin_in_threads(nodes)
        started = time.monotonic()
        for index in range(int(seconds // window)):
            frames_before = camera.frames_published
            window_start = started + index * window
            if stop.wait(max(0.0, window_start + window - time.monotonic())):
                break
            window_end = window_start + window
            summary = summarize_window(index, window_start, window_end, list(monitor.arrivals),
                                       camera.frames_published - frames_before, rss_mib())
            while monitor.arrivals and monitor.arrivals[0][0] < window_end:  # the monitor must not grow the RSS
                monitor.arrivals.popleft()
            windows.append(summary)
            echo(json.dumps(summary))
    finally:
        stop_threads(executors)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return windows


def report(windows, window):
    """One line over all windows: the rates' range, the face ids, the memory growth after the first window."""
    face_ids = sorted({face_id for w in windows for face_id in w["face_ids"]})
    growth = (windows[-1]["rss_mib"] / windows[0]["rss_mib"] - 1) * 100
    rates = [w["emotion_arrays_per_s"] for w in windows]
    inputs = [w["input_fps"] for w in windows]
    return (f"{len(windows)} windows of {window:g} s: {min(rates)}-{max(rates)} EmotionArrays per s for "
            f"{min(inputs)}-{max(inputs)} input frames per s; {len(face_ids)} face id(s); "
            f"RSS {windows[0]['rss_mib']} -> {windows[-1]['rss_mib']} MiB ({growth:+.1f} % after the first window)")


def startup(source, seconds=15.0, echo=print):
    """`emotion-ros bringup --source SOURCE` started as a user starts it: seconds from the command to the
    first EmotionArray with a face, and the peak resident memory of its process (the four nodes)."""
    import subprocess
    import sys

    rclpy.init(args=ros_arguments([]))
    monitor = SoakMonitor()
    started = time.monotonic()
    command = [sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--source", str(source),
               "--max-seconds", str(seconds)]
    bringup = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        executor = SingleThreadedExecutor()
        executor.add_node(monitor)
        first_face, peak_kib = None, 0
        while bringup.poll() is None:
            executor.spin_once(timeout_sec=0.05)
            if first_face is None and any(face_ids for _, _, face_ids in monitor.arrivals):
                first_face = time.monotonic() - started
            with open(f"/proc/{bringup.pid}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle)
            if "VmHWM" not in fields:  # exiting: its memory is gone already
                break
            peak_kib = int(fields["VmHWM"].split()[0])
        executor.shutdown()
    finally:
        bringup.terminate()
        bringup.wait()
        monitor.destroy_node()
        rclpy.try_shutdown()
    echo(f"first EmotionArray with a face {first_face:.2f} s after `emotion-ros bringup` started"
         if first_face is not None else f"no EmotionArray with a face within {seconds:g} s")
    echo(f"peak RSS of the bringup process (four nodes) over {seconds:g} s: {peak_kib / 1024:.0f} MiB")
    return first_face, peak_kib / 1024


def bursts(echo=print, count=3, faces_per_burst=5000):
    """Three FaceArrays of 5,000 faces into emotion_classifier_node, then face_detection_node's detector on a
    7680x4320 frame: time, faces kept and memory."""
    import cv2

    from ..config import load_params
    from ..msg import Face, FaceArray
    from ..nodes.common import image_msg
    from ..nodes.emotion_classifier_node import EmotionClassifierNode
    from ..vision.detectors import detect_faces, detector_from_params
    from .samples import sample_photos

    photo = cv2.imread(str(sample_photos()[0]))
    rclpy.init(args=ros_arguments([]))
    try:
        classifier, listener = EmotionClassifierNode(), SoakMonitor()
        images = listener.create_publisher(Image, "image_raw", 10)
        face_arrays = listener.create_publisher(FaceArray, "faces", 10)
        executor = SingleThreadedExecutor()
        for node in (classifier, listener):
            executor.add_node(node)
        while face_arrays.get_subscription_count() == 0 or images.get_subscription_count() == 0:
            executor.spin_once(timeout_sec=0.1)
        echo(f"emotion_classifier_node RSS {rss_mib():.1f} MiB before the bursts")
        for burst in range(count):
            header = Header(frame_id="burst", stamp=Time(seconds=1000 + burst).to_msg())
            faces = [Face(face_id=f"face_{i}", roi=RegionOfInterest(x_offset=(7 * i) % 1200, y_offset=(3 * i) % 800,
                                                                   width=40, height=40))
                     for i in range(faces_per_burst)]
            started, received = time.monotonic(), len(listener.arrivals)
            images.publish(image_msg(photo, header))
            executor.spin_once(timeout_sec=0.1)
            face_arrays.publish(FaceArray(header=header, faces=faces))
            while len(listener.arrivals) == received:
                executor.spin_once(timeout_sec=0.05)
            echo(f"burst {burst + 1}: {faces_per_burst} faces -> {len(listener.arrivals[-1][2])} emotions in "
                 f"{time.monotonic() - started:.2f} s, RSS {rss_mib():.1f} MiB")
        executor.shutdown()
        classifier.destroy_node()
        listener.destroy_node()
    finally:
        rclpy.try_shutdown()
    params = load_params()["face_detection_node"]
    max_side = params["max_image_side"]
    huge = cv2.resize(photo, (7680, 4320))
    detector = detector_from_params(params)
    started = time.monotonic()
    found = detect_faces(detector, huge, max_image_side=max_side)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    echo(f"{params['detector']} on a 7680x4320 frame, max_image_side {max_side}: {len(found)} faces in "
         f"{time.monotonic() - started:.1f} s, peak RSS of this process {peak:.0f} MiB")
