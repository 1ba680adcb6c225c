"""`emotion-ros soak`: the four nodes on a looping video for minutes, to show that the live path holds its
rate, keeps one face id for one face and does not grow in memory."""

import json
import time

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time

from ..msg import EmotionArray
from ..nodes.bringup import make_nodes, ros_arguments, spin_in_threads, stop_on_signals, stop_threads
from ..nodes.common import use_shipped_dds_profile


class SoakMonitor(Node):
    """Records when each EmotionArray arrives, how late it is behind its image, and its face ids."""

    def __init__(self):
        super().__init__("soak_monitor")
        self.arrivals = []  # (monotonic seconds, latency seconds, face ids)
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
            summary = summarize_window(index, window_start, window_start + window, monitor.arrivals,
                                       camera.frames_published - frames_before, rss_mib())
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
