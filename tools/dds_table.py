"""Frames from a camera driver in another process (docs/ROS.md, "Frames between processes").

    python tools/dds_table.py [--frames 90] [--sizes 640x480 1280x720]

A plain rclpy "driver" process publishes FRAMES bgr8 images (or JPEG CompressedImages) at 30 fps, without a
Fast DDS profile or with the shipped publisher profile, reliable or best effort; a subscriber process with
face_detection_node's QoS (newest frame only, best effort or reliable) and the shipped subscriber profile, or
for comparison the publisher profile (shared memory), counts the frames that arrive and their latency
(arrival minus header stamp). Run inside the project's environment (`. ./shell.sh`).
"""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

DRIVER = """
import sys, time
import numpy as np, rclpy, cv2
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, QoSHistoryPolicy
from sensor_msgs.msg import Image, CompressedImage
width, height, frames, reliable, compressed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), \\
    sys.argv[4] == "reliable", sys.argv[5] == "compressed"
rclpy.init()
node = rclpy.create_node("driver")
qos = QoSProfile(depth=5, history=QoSHistoryPolicy.KEEP_LAST,
                 reliability=QoSReliabilityPolicy.RELIABLE if reliable else QoSReliabilityPolicy.BEST_EFFORT)
topic = "camera/image_raw" + ("/compressed" if compressed else "")
publisher = node.create_publisher(CompressedImage if compressed else Image, topic, qos)
frame = cv2.resize(cv2.imread(sys.argv[6]), (width, height))  # a real photo: JPEG compresses it as a camera's
deadline = time.monotonic() + 20
while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(1.0)
for index in range(frames):
    if compressed:
        msg = CompressedImage(format="bgr8; jpeg compressed bgr8", data=cv2.imencode(".jpg", frame)[1].tobytes())
    else:
        msg = Image(height=height, width=width, encoding="bgr8", step=width * 3, data=frame.tobytes())
    msg.header.stamp = node.get_clock().now().to_msg()
    publisher.publish(msg)
    time.sleep(1 / 30)
time.sleep(1.0)
"""

def count_frames(width, height, frames, driver_profile, driver_reliable, subscriber_reliable, compressed=False,
                 subscriber_profile=None):
    """(frames of `frames` received, their median latency in ms as text) by a subscriber process with
    face_detection_node's QoS; `driver_profile` and `subscriber_profile` are the environments that give each
    process a shipped profile (empty: none; `subscriber_profile` None: the shipped image subscriber profile)."""
    from emotion_ros.apps.samples import sample_photos
    from emotion_ros.nodes.common import DDS_PROFILE_VARIABLES, shipped_dds_profile_environment

    plain = {name: value for name, value in os.environ.items() if name not in DDS_PROFILE_VARIABLES}
    if subscriber_profile is None:
        subscriber_profile = shipped_dds_profile_environment(reads_images=True, environment={})
    subscriber = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--subscribe", "reliable" if subscriber_reliable else
         "best_effort", "compressed" if compressed else "raw"],
        env={**plain, **subscriber_profile}, stdout=subprocess.PIPE, text=True)
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(width), str(height), str(frames),
                               "reliable" if driver_reliable else "best_effort",
                               "compressed" if compressed else "raw", str(sample_photos()[0])],
                              env={**plain, **driver_profile})
    try:
        driver.wait(timeout=120)
        subscriber.send_signal(signal.SIGINT)
        output = subscriber.communicate(timeout=30)[0].split()
    finally:
        driver.kill()
        subscriber.kill()
    return int(output[0]), output[1]


def subscribe(reliability, transport):
    """The subscriber process: counts frames until SIGINT, then prints the count and the median latency."""
    import statistics

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.time import Time
    from sensor_msgs.msg import CompressedImage, Image

    from emotion_ros.nodes.common import image_qos

    rclpy.init()
    node = rclpy.create_node("frame_counter")
    latencies = []

    def received(msg):
        latencies.append((node.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds / 1e6)

    compressed = transport == "compressed"
    node.create_subscription(CompressedImage if compressed else Image,
                             "camera/image_raw" + ("/compressed" if compressed else ""), received,
                             image_qos(reliability == "reliable"))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    print(len(latencies), round(statistics.median(latencies), 1) if latencies else "–", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"])
    parser.add_argument("--subscribe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscribe:
        return subscribe(*args.subscribe)

    from emotion_ros.nodes.common import shipped_dds_profile_environment

    os.environ.setdefault("ROS_DOMAIN_ID", "88")
    publisher = shipped_dds_profile_environment(environment={})  # the shipped ones, whatever this shell sets
    subscriber = shipped_dds_profile_environment(reads_images=True, environment={})
    limit = Path("/proc/sys/net/core/rmem_max").read_text().strip()
    print(f"kernel: net.core.rmem_max {limit}")
    print(f"| image | driver | driver QoS | subscriber profile | subscriber QoS | frames received of {args.frames} "
          "| median latency (ms) |")
    print("| --- | --- | --- | --- | --- | ---: | ---: |")
    for size in args.sizes:
        width, height = (int(side) for side in size.split("x"))
        for driver_profile in ({}, publisher):
            for driver_reliable in (True, False):
                for subscriber_profile in (subscriber, publisher):
                    for subscriber_reliable in (True, False):
                        if subscriber_reliable and not driver_reliable:
                            continue  # a reliable subscription never hears a best-effort publisher
                        got, latency = count_frames(width, height, args.frames, driver_profile, driver_reliable,
                                                    subscriber_reliable, subscriber_profile=subscriber_profile)
                        print(f"| {size} bgr8 | {'shipped publisher profile' if driver_profile else 'no profile'} "
                              f"| {'reliable' if driver_reliable else 'best effort'} | "
                              f"{'shipped (UDP)' if subscriber_profile is subscriber else 'shared memory'} | "
                              f"{'reliable' if subscriber_reliable else 'best effort'} | {got} | {latency} |",
                              flush=True)
        got, latency = count_frames(width, height, args.frames, {}, True, False, compressed=True)
        print(f"| {size} JPEG (CompressedImage) | no profile | reliable | shipped (UDP) | best effort | {got} | "
              f"{latency} |", flush=True)


if __name__ == "__main__":
    main()
