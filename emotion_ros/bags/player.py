"""Replaying a rosbag2 bag on a live ROS graph, for machines without `ros2 bag` (not on PyPI).

Messages go out as the raw CDR bytes stored in the bag, so nothing is deserialized on the way and any
installed message type can be replayed.
"""

import importlib
import re
import threading
import time
from dataclasses import dataclass

from ament_index_python import get_resource
from builtin_interfaces.msg import Time
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rosbags.interfaces import QosDurability
from rosgraph_msgs.msg import Clock

from .bag_io import absolute_topic, open_raw_messages

CLOCK_TOPIC = "/clock"
_MSGTYPE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)/msg/([A-Z][A-Za-z0-9]*)")
SUBSCRIBER_TIMEOUT = 10.0
# Longest wait at the end for reliable subscribers to acknowledge the last messages.
ACK_TIMEOUT = 5.0
# Longest uninterrupted sleep, so that a stop request or Ctrl-C is noticed quickly.
POLL_PERIOD = 0.05
# Reliable writers match best-effort readers (our image nodes) as well as reliable ones; a few messages of
# history let a slow reliable reader catch up without holding up the replay.
REPLAY_DEPTH = 10


@dataclass
class PlaySummary:
    published: int  # messages published, all loop passes together
    topics: dict  # bag topic -> topic it was published on


def message_class(msgtype):
    """The rclpy class of 'pkg/msg/Type', only if an installed ROS interface package declares that type.

    A bag is untrusted input: its type names are checked against the ament index (the `rosidl_interfaces`
    resources that interface packages install) before anything is imported, so a bag cannot make this
    process import an arbitrary module.
    """
    match = _MSGTYPE.fullmatch(msgtype)
    if match is None:
        raise ValueError(f"cannot publish {msgtype!r}: not a ROS message type name (package/msg/Type)")
    package, name = match.groups()
    try:
        interfaces, _ = get_resource("rosidl_interfaces", package)
    except (LookupError, ValueError, OSError):
        raise ValueError(f"cannot publish {msgtype}: no installed ROS interface package {package!r} "
                         f"(is its workspace sourced?)") from None
    if f"msg/{name}.msg" not in interfaces.split() and f"msg/{name}.idl" not in interfaces.split():
        raise ValueError(f"cannot publish {msgtype}: package {package!r} declares no message {name!r}")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot publish {msgtype}: its Python message class is not installed ({err})") from None


def replay_qos(latched=False):
    """Transient local only where the recorded publisher latched: a volatile writer never matches a
    transient-local reader, while a transient-local writer would hand old frames to late subscribers."""
    durability = QoSDurabilityPolicy.TRANSIENT_LOCAL if latched else QoSDurabilityPolicy.VOLATILE
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=REPLAY_DEPTH,
                      reliability=QoSReliabilityPolicy.RELIABLE, durability=durability)


def _channel(connection):
    """What a publisher is made for; connection ids are not, they change each time the bag is opened."""
    return connection.topic, connection.msgtype


def _recorded_as_latched(connection):
    profiles = getattr(connection.ext, "offered_qos_profiles", None) or []
    return any(profile.durability == QosDurability.TRANSIENT_LOCAL for profile in profiles)


def _time_msg(stamp_ns):
    return Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)


def _sleep_until(deadline, stop, context):
    """False as soon as playing must end: `stop` set, or the ROS context shut down (Ctrl-C)."""
    while context.ok() and not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        stop.wait(min(remaining, POLL_PERIOD))
    return False


def _wait_for_subscribers(node, publishers, timeout, stop):
    """A message published before any reader has matched is lost; the timeout keeps an unwatched replay
    from waiting forever."""
    deadline = time.monotonic() + timeout
    logged = False
    while True:
        missing = sorted({p.topic_name for p in publishers if p.get_subscription_count() == 0})
        if not missing:
            return
        if not logged:
            node.get_logger().info(f"waiting up to {timeout:g} s for subscribers on {', '.join(missing)}")
            logged = True
        if time.monotonic() >= deadline:
            node.get_logger().warning(f"no subscriber on {', '.join(missing)} after {timeout:g} s; "
                                      "playing anyway")
            return
        if not _sleep_until(time.monotonic() + POLL_PERIOD, stop, node.context):
            return


def _wait_for_acks(node, publishers):
    """Without it the last messages die with the player's process before reaching another process's
    reliable subscribers (what `ros2 bag play --wait-for-all-acked` is for)."""
    deadline = time.monotonic() + ACK_TIMEOUT
    unacked = [p.topic_name for p in publishers
               if not p.wait_for_all_acked(Duration(seconds=max(deadline - time.monotonic(), 0.0)))]
    if unacked:
        node.get_logger().warning(f"messages on {', '.join(sorted(set(unacked)))} not acknowledged by all "
                                  f"subscribers after {ACK_TIMEOUT:g} s")


def _play_pass(messages, publishers, clock_publisher, rate, stop, context):
    """One pass over the bag at its recorded pace; returns how many messages went out."""
    published = 0
    start_wall = start_bag = None
    for connection, log_time, raw in messages:
        if start_bag is None:
            start_wall, start_bag = time.monotonic(), log_time
        if not _sleep_until(start_wall + (log_time - start_bag) / 1e9 / rate, stop, context):
            break
        if clock_publisher is not None:
            clock_publisher.publish(Clock(clock=_time_msg(log_time)))  # before the data stamped with it
        publishers[_channel(connection)].publish(raw)
        published += 1
    return published


def play_bag(bag_path, rate=1.0, loop=False, topic_remaps=None, publish_clock=False,
             wait_for_subscribers=True, subscriber_timeout=SUBSCRIBER_TIMEOUT, stop=None, context=None):
    """Publish every message of a bag at its recorded timing divided by `rate`, like `ros2 bag play`.

    Blocks until the end of the bag (with `loop`: indefinitely), until `stop` (a threading.Event) is set,
    or until the ROS context is shut down (Ctrl-C). rclpy must be initialised (`context`, else the default
    one); the player's node is never spun, so it can run in a thread beside an executor of the same
    process. `topic_remaps` maps bag topics to the topics to publish on. With `publish_clock`, /clock
    carries each message's bag time just before the message, for nodes with use_sim_time. A file that
    cannot be opened as a bag raises bags.BagError before the player joins the graph; a bag broken
    further on raises it when the broken part is reached.
    """
    if not rate > 0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    remaps = {absolute_topic(source): absolute_topic(target)
              for source, target in (topic_remaps or {}).items()}
    stop = stop or threading.Event()
    with open_raw_messages(bag_path) as (connections, _):  # a broken bag fails before touching the graph
        channels = {_channel(c) for c in connections}
        message_classes = {channel: message_class(channel[1]) for channel in channels}
        latched = {channel: any(_recorded_as_latched(c) for c in connections if _channel(c) == channel)
                   for channel in channels}
    topics = {topic: remaps.get(topic, topic) for topic, _ in channels}
    node = Node("bag_player", context=context)
    try:
        publishers = {channel: node.create_publisher(message_classes[channel], topics[channel[0]],
                                                     replay_qos(latched[channel]))
                      for channel in channels}
        clock_publisher = node.create_publisher(Clock, CLOCK_TOPIC, replay_qos()) if publish_clock else None
        all_publishers = [*publishers.values(), *([clock_publisher] if clock_publisher else [])]
        if wait_for_subscribers:
            _wait_for_subscribers(node, all_publishers, subscriber_timeout, stop)
        published = 0
        while True:
            with open_raw_messages(bag_path) as (_, messages):
                pass_published = _play_pass(messages, publishers, clock_publisher, rate, stop, node.context)
            published += pass_published
            if not (loop and pass_published and not stop.is_set() and node.context.ok()):
                break
        if node.context.ok():
            _wait_for_acks(node, all_publishers)
    finally:
        node.destroy_node()
    return PlaySummary(published=published, topics=topics)
