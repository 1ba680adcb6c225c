"""Frames from a camera driver in another process (docs/ROS.md, "Large images between processes").

    python tools/dds_table.py [--frames 90] [--sizes 640x480 1280x720]

A plain rclpy "driver" process publishes FRAMES bgr8 images (or JPEG CompressedImages) at 30 fps, with or
without the shipped Fast DDS profile, reliable or best effort; this process subscribes as
face_detection_node does (the shipped profile, newest frame only), best effort or reliable, and counts the
frames that arrive. Run inside the project's environment (`. ./shell.sh`).
"""

import argparse
import os
import subprocess
import sys
import time

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
    stamp = node.get_clock().now().to_msg()
    if compressed:
        msg = CompressedImage(format="bgr8; jpeg compressed bgr8", data=cv2.imencode(".jpg", frame)[1].tobytes())
    else:
        msg = Image(height=height, width=width, encoding="bgr8", step=width * 3, data=frame.tobytes())
    msg.header.stamp = stamp
    publisher.publish(msg)
    time.sleep(1 / 30)
time.sleep(1.0)
"""


def count_frames(width, height, frames, driver_profile, driver_reliable, subscriber_reliable, compressed=False):
    """Frames of `frames` that reach a subscriber with face_detection_node's QoS in this process;
    `driver_profile` is the environment that gives the driver the shipped profile, or empty."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import CompressedImage, Image

    from emotion_ros.nodes.common import DDS_PROFILE_VARIABLES, image_qos

    received = []
    node = rclpy.create_node("frame_counter")
    topic = "camera/image_raw" + ("/compressed" if compressed else "")
    node.create_subscription(CompressedImage if compressed else Image, topic, received.append,
                             image_qos(subscriber_reliable))
    env = {name: value for name, value in os.environ.items() if name not in DDS_PROFILE_VARIABLES}
    env.update(driver_profile)
    from emotion_ros.apps.samples import sample_photos

    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(width), str(height), str(frames),
                               "reliable" if driver_reliable else "best_effort",
                               "compressed" if compressed else "raw", str(sample_photos()[0])], env=env)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while driver.poll() is None:
            executor.spin_once(timeout_sec=0.01)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.01)
    finally:
        driver.kill()
        executor.shutdown()
        node.destroy_node()
    return len(received)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"])
    args = parser.parse_args()

    from emotion_ros.nodes.common import shipped_dds_profile_environment, use_shipped_dds_profile

    os.environ.setdefault("ROS_DOMAIN_ID", "88")
    shipped = shipped_dds_profile_environment()  # before this process takes it
    use_shipped_dds_profile()
    import rclpy

    rclpy.init()
    print(f"| image | driver | driver QoS | subscriber QoS | frames received of {args.frames} |")
    print("| --- | --- | --- | --- | ---: |")
    try:
        for size in args.sizes:
            width, height = (int(side) for side in size.split("x"))
            for driver_profile in ({}, shipped):
                for driver_reliable in (True, False):
                    for subscriber_reliable in (False, True):
                        if subscriber_reliable and not driver_reliable:
                            continue  # a reliable subscription never hears a best-effort publisher
                        got = count_frames(width, height, args.frames, driver_profile, driver_reliable,
                                           subscriber_reliable)
                        print(f"| {size} bgr8 | {'shipped profile' if driver_profile else 'no profile'} | "
                              f"{'reliable' if driver_reliable else 'best effort'} | "
                              f"{'reliable, depth 1' if subscriber_reliable else 'best effort, depth 1'} | {got} |",
                              flush=True)
            got = count_frames(width, height, args.frames, {}, True, False, compressed=True)
            print(f"| {size} JPEG (CompressedImage) | no profile | reliable | best effort, depth 1 | {got} |",
                  flush=True)
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
