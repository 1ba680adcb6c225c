"""The four nodes of launch/bringup.launch.py in one process and one executor, for machines without
`ros2 launch` (the launch tools are not on PyPI). Same executables' classes, same parameter files.
"""

import time
from pathlib import Path

import cv2
import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String

from ..msg import EmotionArray
from ..paths import config_path
from ..vision.images import image_from_msg
from .camera_node import CameraNode
from .common import LATCHED_QOS, stamp_seconds
from .emotion_classifier_node import EmotionClassifierNode
from .face_detection_node import FaceDetectionNode
from .social_response_node import SocialResponseNode

NODE_CLASSES = (CameraNode, FaceDetectionNode, EmotionClassifierNode, SocialResponseNode)
# Seconds to wait for the emotions of the last frames once the source has ended.
DRAIN_TIMEOUT = 15.0


def ros_arguments(params_files):
    """rclpy arguments applying params.yaml, then each user file on top, to every node by its name."""
    arguments = ["--ros-args", "--params-file", str(config_path("params.yaml"))]
    for path in params_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"parameter file not found: {path}")
        arguments += ["--params-file", str(path)]
    return arguments


def spin_for(executor, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)


class ResultsMonitor(Node):
    """Prints one line per face and per social response; saves the annotated images to `out_dir`."""

    def __init__(self, out_dir=None, echo=print):
        super().__init__("bringup_monitor")
        self.echo = echo
        self.out_dir = Path(out_dir) if out_dir else None
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
        stamp = stamp_seconds(msg.header)
        self.echo(f"image {self.emotion_arrays} (stamp {stamp:.3f}, frame {msg.header.frame_id}): "
                  f"{len(msg.emotions)} face(s)")
        for emotion in msg.emotions:
            roi = emotion.roi
            self.echo(f"  {emotion.face_id}: {emotion.label} {emotion.confidence:.2f} at "
                      f"x={roi.x_offset} y={roi.y_offset} w={roi.width} h={roi.height} "
                      f"(valence {emotion.valence:+.2f}, arousal {emotion.arousal:+.2f})")

    def on_annotated(self, msg):
        path = self.out_dir / f"emotions_{msg.header.stamp.sec}_{msg.header.stamp.nanosec:09d}.jpg"
        cv2.imwrite(str(path), image_from_msg(msg))


def bringup(source, params_files=(), out_dir=None, max_seconds=None, echo=print):
    """Run the four nodes on `source` until Ctrl-C, `max_seconds`, or the end of a photo directory or video
    that does not loop (after the last frame's emotions have arrived). Without a `source` there is no
    camera_node: the images come from elsewhere on `image_raw`, e.g. `emotion-ros bag play`."""
    rclpy.init(args=ros_arguments(params_files))
    nodes = []
    try:
        # The camera comes last so that its first frame finds the other nodes ready.
        nodes = [node_class() for node_class in NODE_CLASSES[1:]]
        camera = None
        if source is not None:
            camera = CameraNode(parameter_overrides=[Parameter("source", value=str(source))])
            nodes.insert(0, camera)
        monitor = ResultsMonitor(out_dir, echo)
        executor = MultiThreadedExecutor(num_threads=4)
        for node in (*nodes, monitor):
            executor.add_node(node)
        started = time.monotonic()
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
            now = time.monotonic()
            if max_seconds is not None and now - started > max_seconds:
                echo(f"stopping after {max_seconds:g} s")
                break
            if camera is not None and camera.source.finished:
                all_received = monitor.emotion_arrays >= camera.frames_published
                if all_received or now - monitor.last_received > DRAIN_TIMEOUT:
                    spin_for(executor, 1.0)  # let the social response of the last image arrive
                    echo(f"done: {camera.frames_published} image(s) sent, "
                         f"{monitor.emotion_arrays} emotion array(s) received")
                    break
        return monitor.emotion_arrays
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
