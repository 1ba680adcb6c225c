"""`bag play` on a live ROS graph: a real bag of real face photos replayed into the running pipeline."""

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from conftest import DOMAIN_ID, spin_until, start  # noqa: E402

from emotion_ros.bags.player import play_bag, replay_qos  # noqa: E402
from emotion_ros.bags.bag_io import BagError, record_photos  # noqa: E402
from emotion_ros.nodes.bringup import ros_arguments  # noqa: E402
from emotion_ros.nodes.emotion_classifier_node import EmotionClassifierNode  # noqa: E402
from emotion_ros.nodes.face_detection_node import FaceDetectionNode  # noqa: E402
from emotion_ros.msg import EmotionArray, SocialResponse  # noqa: E402
from emotion_ros.apps.samples import sample_photos  # noqa: E402
from emotion_ros.nodes.social_response_node import SocialResponseNode  # noqa: E402

START_NS = 1_700_000_000 * 10**9 + 250_000_000
STAMPS = [START_NS + index * 10**9 for index in range(3)]  # one photo a second
# The posed single faces that the Haar detector finds (it misses the fourth).
POSED_PHOTOS = sample_photos()[2:5]


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init(args=ros_arguments([]), domain_id=DOMAIN_ID)
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def photo_bag(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for photo in POSED_PHOTOS:
        shutil.copyfile(photo, folder / photo.name)
    bag_path = tmp_path_factory.mktemp("bags") / "photos"
    return record_photos(folder, bag_path, fps=1.0, start_ns=START_NS).bag_path


class Listener(Node):
    """Keeps every message of the given {topic: (type, qos)}, by topic."""

    def __init__(self, topics, **kwargs):
        super().__init__("bag_listener", **kwargs)
        self.received = {topic: [] for topic in topics}
        for topic, (msg_type, qos) in topics.items():
            self.create_subscription(msg_type, topic, self.received[topic].append, qos)

    def stamps(self, topic):
        return [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in self.received[topic]]


@contextlib.contextmanager
def playing(bag_path, **kwargs):
    """play_bag in a thread of its own, stopped and joined whatever the test does: no thread outlives it."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(play_bag, bag_path, stop=stop, **kwargs)
        try:
            yield future
        finally:
            stop.set()


def test_replayed_photos_flow_through_the_pipeline(executor, photo_bag):
    listener = Listener({"emotions": (EmotionArray, 10), "social_response": (SocialResponse, 10)})
    start(executor, listener, FaceDetectionNode(parameter_overrides=[Parameter("detector", value="haar")]),
          EmotionClassifierNode(), SocialResponseNode())
    # each node keeps only the newest frame: half speed leaves every photo time to pass all the nodes
    with playing(photo_bag, rate=0.5) as player:
        assert spin_until(executor, player.done)
        assert player.result().published == 3
    assert spin_until(executor, lambda: len(listener.received["emotions"]) >= 3
                      and listener.received["social_response"])

    arrays = listener.received["emotions"]
    assert listener.stamps("emotions") == STAMPS
    assert all(len(array.emotions) >= 1 and array.header.frame_id == "camera" for array in arrays)
    # the first emotions make the head show its first emoji, decided from that photo
    assert listener.stamps("social_response")[0] == STAMPS[0]


def test_loop_replays_until_stopped_on_remapped_topics(executor, photo_bag):
    listener = Listener({"/looped/image": (Image, replay_qos())})
    start(executor, listener)
    with playing(photo_bag, rate=20.0, loop=True, topic_remaps={"image_raw": "looped/image"}) as player:
        assert spin_until(executor, lambda: player.done() or len(listener.received["/looped/image"]) >= 7)
    summary = player.result()
    assert summary.topics == {"/image_raw": "/looped/image"}
    assert summary.published >= 7
    assert listener.stamps("/looped/image")[:7] == STAMPS * 2 + STAMPS[:1]


def run_cli(*args):
    env = {**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)}
    return subprocess.Popen([sys.executable, "-m", "emotion_ros.apps.cli", "bag", "play", *map(str, args)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_cli_play_publishes_the_bag_times_on_clock(executor, photo_bag):
    listener = Listener({"/clock": (Clock, replay_qos()), "/replayed/image": (Image, replay_qos())})
    start(executor, listener)
    process = run_cli(photo_bag, "--rate", "10", "--clock", "--topic-remap", "/image_raw:=/replayed/image")
    try:
        assert spin_until(executor, lambda: process.poll() is not None
                          and min(map(len, listener.received.values())) >= 3)
    finally:
        if process.poll() is None:
            process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, err
    assert out == "played 3 messages on /replayed/image\n"
    assert listener.stamps("/replayed/image") == STAMPS
    assert [m.clock.sec * 10**9 + m.clock.nanosec for m in listener.received["/clock"]] == STAMPS


def test_sim_time_nodes_follow_the_bag(executor, photo_bag):
    listener = Listener({"image_raw": (Image, replay_qos())},
                        parameter_overrides=[Parameter("use_sim_time", value=True)])
    start(executor, listener)
    with playing(photo_bag, rate=10.0, publish_clock=True) as player:
        assert spin_until(executor, player.done)
        assert player.result().published == 3
    assert spin_until(executor, lambda: listener.get_clock().now().nanoseconds == STAMPS[-1])


def broken_bag(kind, photo_bag, tmp_path):
    if kind == "text file":
        path = tmp_path / "notes.txt"
        path.write_text("hello, I am not a bag\n" * 20)
        return path
    path = tmp_path / "truncated"
    shutil.copytree(photo_bag, path)
    storage_file = next(p for p in path.iterdir() if p.suffix == ".mcap")
    os.truncate(storage_file, storage_file.stat().st_size // 2)
    return path


@pytest.mark.parametrize("kind", ["text file", "truncated"])
def test_broken_bags_give_a_clear_one_line_error(kind, photo_bag, tmp_path):
    path = broken_bag(kind, photo_bag, tmp_path)
    with pytest.raises(BagError, match=f"{path} is not a readable rosbag2 bag"):
        play_bag(path)

    process = run_cli(path)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (1, "")
    assert err.startswith(f"emotion-ros bag play: error: {path} is not a readable rosbag2 bag")
    assert err.count("\n") == 1


def test_bag_play_never_imports_a_module_named_by_the_bag(tmp_path):
    """A bag is untrusted: a message type naming a local module is refused before anything is imported."""
    from rosbags.rosbag2 import Writer

    marker = tmp_path / "evilmod_ran"
    (tmp_path / "evilmod.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass msg:\n    X = int\n")
    bag_path = tmp_path / "evil_bag"
    with Writer(bag_path, version=9) as writer:
        connection = writer.add_connection("/evil", "evilmod/msg/X", msgdef="int32 data", rihs01="RIHS01_" + "0" * 64)
        writer.write(connection, START_NS, b"\x00\x01\x00\x00\x2a\x00\x00\x00")
    result = subprocess.run([sys.executable, "-m", "emotion_ros.apps.cli", "bag", "play", str(bag_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    assert result.returncode != 0
    assert "cannot publish evilmod/msg/X: no installed ROS interface package 'evilmod'" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("msgtype, problem", [
    ("this/msg/Zen", "no installed ROS interface package 'this'"),
    ("os.path/msg/X", "not a ROS message type name"),
    ("sensor_msgs/msg/Zen", "package 'sensor_msgs' declares no message 'Zen'"),
])
def test_message_types_resolve_only_through_the_ament_index(msgtype, problem):
    from emotion_ros.bags.player import message_class

    before = set(sys.modules)
    with pytest.raises(ValueError, match=problem):
        message_class(msgtype)
    assert set(sys.modules) - before == set()
    assert message_class("sensor_msgs/msg/Image") is Image
    assert message_class("emotion_ros/msg/EmotionArray") is EmotionArray
