"""The four nodes of launch/bringup.launch.py in one process, one executor thread each, for machines
without `ros2 launch` (the launch tools are not on PyPI). Same executables' classes, same parameter files.
"""

import signal
import threading
import time
from pathlib import Path

import cv2
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from std_msgs.msg import String

from ..config import load_params, params_file
from ..msg import EmotionArray
from ..paths import atomic_output, config_path
from ..vision.images import image_from_msg
from .camera_node import CameraNode
from .common import LATCHED_QOS, stamp_seconds, use_shipped_dds_profile
from .emotion_classifier_node import EmotionClassifierNode
from .face_detection_node import FaceDetectionNode
from .social_response_node import SocialResponseNode

NODE_CLASSES = (CameraNode, FaceDetectionNode, EmotionClassifierNode, SocialResponseNode)
# Seconds to wait for the emotions of the last frames once the source has ended.
DRAIN_TIMEOUT = 15.0


def ros_arguments(params_files, remaps=()):
    """rclpy arguments applying params.yaml, then each user file on top, to every node by its name, and the
    (from, to) topic remaps to every node (`image_raw` to a camera driver's topic, say)."""
    arguments = ["--ros-args", "--params-file", str(config_path("params.yaml"))]
    for source, target in remaps:
        arguments += ["--remap", f"{source}:={target}"]
    for path in map(params_file, params_files):
        load_params(path)  # a file rcl cannot parse fails here with its problem named, not deep inside rcl
        arguments += ["--params-file", str(path)]
    return arguments


class ResultsMonitor(Node):
    """Prints one line per face and per social response; saves the annotated images to `out_dir`, named
    after their photo when `photo_names` ((sec, nanosec) stamp -> file name) knows it, else by stamp."""

    def __init__(self, out_dir=None, echo=print, photo_names=None, quiet=False):
        super().__init__("bringup_monitor")
        self.echo = echo
        self.quiet = quiet  # only the head's emoji and questions, not a line per image and face
        self.out_dir = Path(out_dir) if out_dir else None
        self.photo_names = photo_names if photo_names is not None else {}
        self.emotion_arrays = 0
        self.last_received = time.monotonic()
        self.create_subscription(EmotionArray, "emotions", self.on_emotions, 10)
        self.create_subscription(String, "emoji", lambda msg: self.echo(f"  emoji {msg.data}"), LATCHED_QOS)
        self.create_subscription(String, "question", lambda msg: self.echo(f"  question: {msg.data}"), 10)
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.create_subscription(Image, "emotions/image", self.on_annotated, qos_profile_sensor_data)

    def on_emotions(self, msg):
        self.emotion_arrays += 1
        self.last_received = time.monotonic()
        if self.quiet:
            return
        stamp = stamp_seconds(msg.header)
        self.echo(f"image {self.emotion_arrays} (stamp {stamp:.3f}, frame {msg.header.frame_id}): "
                  f"{len(msg.emotions)} face(s)")
        for emotion in msg.emotions:
            roi = emotion.roi
            self.echo(f"  {emotion.face_id}: {emotion.label} {emotion.confidence:.2f} at "
                      f"x={roi.x_offset} y={roi.y_offset} w={roi.width} h={roi.height} "
                      f"(valence {emotion.valence:+.2f}, arousal {emotion.arousal:+.2f})")

    def on_annotated(self, msg):
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        photo = self.photo_names.get(stamp)
        name = f"{Path(photo).stem}_emotions.jpg" if photo else f"emotions_{stamp[0]}_{stamp[1]:09d}.jpg"
        with atomic_output(self.out_dir / name) as path:
            cv2.imwrite(str(path), image_from_msg(msg))


def make_nodes(source):
    """The four nodes (no camera_node without a `source`), and the camera node or None."""
    nodes = []
    try:
        # The camera comes last so that its first frame finds the other nodes ready.
        for node_class in NODE_CLASSES[1:]:
            nodes.append(node_class())
        if source is None:
            return nodes, None
        camera = CameraNode(parameter_overrides=[Parameter("source", value=str(source))])
    except BaseException:
        for node in nodes:
            node.destroy_node()
        raise
    return [camera, *nodes], camera


def spin_in_threads(nodes):
    """One single-threaded executor per node, each in its own thread: like separate processes, each node
    handles its callbacks in order while the nodes run side by side. rclpy's MultiThreadedExecutor slowed
    the pipeline down over minutes (rclpy issue 1452) and crashed at shutdown with callbacks still running."""
    executors = []
    for node in nodes:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        thread = threading.Thread(target=_spin, args=(executor,), name=node.get_name(), daemon=True)
        thread.start()
        executors.append((executor, thread))
    return executors


def _spin(executor):
    try:
        executor.spin()
    except ExternalShutdownException:
        pass


def stop_on_signals():
    """An event set by Ctrl-C or SIGTERM. rclpy's own handlers would invalidate the context while node
    callbacks still run in their threads; with this one the caller stops the executors first, then shuts
    rclpy down. Pass `signal_handler_options=SignalHandlerOptions.NO` to rclpy.init."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stop.set())
    return stop


def stop_threads(executors, timeout=5.0):
    """Stop every executor and wait for its callback in progress, so no node is destroyed under a callback."""
    for executor, _ in executors:
        executor.shutdown(timeout_sec=timeout)
    for _, thread in executors:
        thread.join(timeout)


def bringup(source, params_files=(), out_dir=None, max_seconds=None, echo=print, remaps=(), quiet=False):
    """Run the four nodes on `source` until Ctrl-C, `max_seconds`, or the end of a photo directory or video
    that does not loop (after the last frame's emotions have arrived). Without a `source` there is no
    camera_node: the images come from elsewhere on `image_raw`, e.g. `emotion-ros bag play` or a camera
    driver whose topic `remaps` maps `image_raw` to. `quiet` prints only the head's emoji and questions."""
    arguments = ros_arguments(params_files, remaps)
    use_shipped_dds_profile(reads_images=source is None)  # without a camera_node the images come from elsewhere
    stop = stop_on_signals()
    rclpy.init(args=arguments, signal_handler_options=SignalHandlerOptions.NO)
    nodes, executors = [], []
    try:
        nodes, camera = make_nodes(source)
        monitor = ResultsMonitor(out_dir, echo, camera.photo_names if camera is not None else None, quiet)
        nodes.append(monitor)
        executors = spin_in_threads(nodes)
        started = time.monotonic()
        while not stop.wait(0.1):
            now = time.monotonic()
            if max_seconds is not None and now - started > max_seconds:
                echo(f"stopping after {max_seconds:g} s")
                break
            if camera is not None and camera.source.finished:
                all_received = monitor.emotion_arrays >= camera.frames_published
                if all_received or now - monitor.last_received > DRAIN_TIMEOUT:
                    stop.wait(1.0)  # let the social response of the last image arrive
                    echo(f"done: {camera.frames_published} image(s) sent, "
                         f"{monitor.emotion_arrays} emotion array(s) received")
                    break
        return monitor.emotion_arrays
    finally:
        stop_threads(executors)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
