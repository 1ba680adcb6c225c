"""What the four nodes share: parameters declared from config/params.yaml and checked, image QoS, the DDS
profile for large images, message conversion, and the `main()` of every node executable."""

import math
import os
import re
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest

from ..config import check_params_file, node_params
from ..msg import Face
from ..paths import config_path
from ..vision.boxes import Detection
from ..vision.images import compressed_fields, image_fields

IMAGE_RELIABILITY_DESCRIPTION = (
    "how image_raw is subscribed: auto follows the publishers (reliable while every one is reliable, so that no "
    "frame is lost between processes; best effort as soon as one is, which a reliable subscription cannot hear); "
    "reliable or best_effort fixes it"
)


def image_qos(reliable, depth=1):
    """Only the newest `depth` images are kept, so a slow node never builds a backlog."""
    reliability = QoSReliabilityPolicy.RELIABLE if reliable else QoSReliabilityPolicy.BEST_EFFORT
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability)


def publishers_all_reliable(node, topic):
    """Whether every publisher of `topic` offers reliable delivery; None while it has none."""
    publishers = node.get_publishers_info_by_topic(topic)
    if not publishers:
        return None
    return all(info.qos_profile.reliability == QoSReliabilityPolicy.RELIABLE for info in publishers)


# The socket receive buffer the kernel must allow for best-effort camera-size images over UDP: with 4 MiB,
# 90 of 90 frames at 640x480 and 1280x720 arrived; with Linux's usual 208 KiB, 11-39 (docs/ROS.md).
SOCKET_BUFFER_NEEDED = 4 * 2**20
SOCKET_BUFFER_LIMIT = Path("/proc/sys/net/core/rmem_max")


def socket_buffer_limit():
    """The largest socket receive buffer the kernel allows, in bytes; None where it does not say (not Linux)."""
    try:
        return int(SOCKET_BUFFER_LIMIT.read_text())
    except (OSError, ValueError):
        return None


def warn_small_socket_buffers(logger):
    """Warn that best-effort raw images will lose frames where the kernel caps socket buffers low; True when
    warned."""
    limit = socket_buffer_limit()
    if limit is None or limit >= SOCKET_BUFFER_NEEDED:
        return False
    logger.warning(f"net.core.rmem_max is {limit} bytes: best-effort camera images from another process will "
                   f"lose frames; allow {SOCKET_BUFFER_NEEDED} (sudo sysctl -w net.core.rmem_max="
                   f"{SOCKET_BUFFER_NEEDED}), or publish them reliably or compressed (docs/ROS.md)")
    return True


class ImageSubscription:
    """A node's subscription to its images, with `image_reliability` applied.

    Between processes a large image arrives whole only if every fragment does: a reliable subscription repairs
    lost fragments but hears only reliable publishers, a best-effort one hears every publisher. `auto` takes
    the reliable one while all of the topic's publishers are reliable (a camera_node, `bag play`, most
    drivers) and the best-effort one otherwise (also before any publisher is heard), and checks again every
    second, so the publishers may start, stop or change in any order; while none is left it keeps the last.
    The topic and the reliability in use are kept in `details` (a NodeHealth's, so /diagnostics shows them).
    """

    def __init__(self, node, transport, reliability, callback, depth=1, details=None):
        self.node, self.callback, self.depth, self.reliability = node, callback, depth, reliability
        self.details = {} if details is None else details
        self.message_type, topic = image_topic(node, transport)
        self.topic = node.resolve_topic_name(topic)
        self.subscription = None
        self.warned_socket_buffers = False
        self._subscribe(bool(self._wanted_reliable()))
        self.timer = node.create_timer(1.0, self.follow_publishers) if reliability == "auto" else None

    @property
    def reliable(self):
        return self.subscription.qos_profile.reliability == QoSReliabilityPolicy.RELIABLE

    def _wanted_reliable(self):
        if self.reliability == "auto":
            return publishers_all_reliable(self.node, self.topic)
        return self.reliability == "reliable"

    def _subscribe(self, reliable):
        if self.subscription is not None:
            self.node.destroy_subscription(self.subscription)
        # auto: a publisher the reliable subscription cannot hear is no fault, the next check follows it
        events = SubscriptionEventCallbacks(incompatible_qos=lambda event: None) if self.reliability == "auto" else None
        self.subscription = self.node.create_subscription(self.message_type, self.topic, self.callback,
                                                          image_qos(reliable, self.depth), event_callbacks=events)
        self.details["images"] = f"{self.topic}, {self.description}"
        if reliable or self.message_type is not Image or self.warned_socket_buffers:
            return
        # auto before any publisher is heard is no best-effort camera yet
        if self.reliability == "best_effort" or self.node.get_publishers_info_by_topic(self.topic):
            self.warned_socket_buffers = warn_small_socket_buffers(self.node.get_logger())

    def follow_publishers(self):
        reliable = self._wanted_reliable()
        if reliable is not None and reliable != self.reliable:
            self._subscribe(reliable)
            self.node.get_logger().info(f"{self.topic}: subscribed {self.description} (image_reliability: auto)")

    @property
    def description(self):
        return "reliably" if self.reliable else "best effort"

    def destroy(self):
        if self.timer is not None:
            self.node.destroy_timer(self.timer)
        self.node.destroy_subscription(self.subscription)
        self.details.pop("images", None)


IMAGE_TRANSPORT_DESCRIPTION = (
    "raw: sensor_msgs/Image on image_raw; compressed: sensor_msgs/CompressedImage (JPEG or PNG) on "
    "image_raw/compressed, image_transport's name for it (a camera on another machine over Wi-Fi)"
)


def image_topic(node, transport):
    """(message type, topic) of the images for `transport`; the compressed topic follows the remapped raw
    one, as image_transport does: image_raw:=/camera/image reads /camera/image/compressed."""
    if transport == "compressed":
        return CompressedImage, node.resolve_topic_name("image_raw") + "/compressed"
    return Image, "image_raw"


# The head's current state: a late subscriber (a screen that starts later) still gets it.
LATCHED_QOS = QoSProfile(
    history=QoSHistoryPolicy.KEEP_LAST, depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
)


DDS_PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")  # Fast DDS 3, 2
# The shipped Fast DDS profiles (each file says what it changes, docs/ROS.md measures it): a process that
# reads camera images from other processes takes them over UDP with large buffers, which every publisher
# can reach, where Fast DDS's default shared memory loses large images from a publisher without a profile;
# a process that publishes them offers a shared-memory segment large enough for any camera image.
IMAGE_SUBSCRIBER_PROFILE = "fastdds_image_subscriber.xml"
IMAGE_PUBLISHER_PROFILE = "fastdds_image_publisher.xml"
IMAGE_READING_NODES = ("face_detection_node", "emotion_classifier_node")


def shipped_dds_profile_environment(reads_images=False, environment=None):
    """{variable: path} of the shipped profile for a process that reads camera images from other processes
    (`reads_images`) or publishes them; empty when `environment` (os.environ, or a launch context's) already
    names a profile."""
    environment = os.environ if environment is None else environment
    if any(environment.get(name) for name in DDS_PROFILE_VARIABLES):
        return {}
    profile = IMAGE_SUBSCRIBER_PROFILE if reads_images else IMAGE_PUBLISHER_PROFILE
    return {_profile_variable(): str(config_path(profile))}


def use_shipped_dds_profile(reads_images=False):
    """The shipped Fast DDS profile for this process, unless the user chose one. Call before rclpy.init()."""
    os.environ.update(shipped_dds_profile_environment(reads_images))


def _profile_variable():
    """Fast DDS 3 (Kilted, rmw_fastrtps 9) reads FASTDDS_DEFAULT_PROFILES_FILE and warns about the old name;
    Fast DDS 2 (Jazzy, rmw_fastrtps 8) reads only FASTRTPS_DEFAULT_PROFILES_FILE."""
    try:
        from ament_index_python.packages import get_package_share_directory

        package_xml = Path(get_package_share_directory("rmw_fastrtps_cpp")) / "package.xml"
        version = re.search(r"<version>(\d+)\.", package_xml.read_text())
    except (ImportError, LookupError, OSError, ValueError):
        version = None
    return DDS_PROFILE_VARIABLES[1] if version and int(version.group(1)) < 9 else DDS_PROFILE_VARIABLES[0]


class Check:
    """What a parameter's value must be: `requirement` in words (for the refusal), `test` the check, and for a
    number its `limits` (low, high), which its descriptor carries so that `ros2 param describe` shows them."""

    def __init__(self, requirement, test, limits=None):
        self.requirement, self.test, self.limits = requirement, test, limits


def between(low, high):
    """A finite number from `low` to `high`: checked at start and on every change."""
    return Check(f"between {low} and {high}", lambda value: math.isfinite(value) and low <= value <= high,
                 (low, high))


def one_of(*choices):
    return Check(f"one of {', '.join(choices)}", lambda value: value in choices)


IMAGE_TRANSPORT = one_of("raw", "compressed")
IMAGE_RELIABILITY = one_of("auto", "reliable", "best_effort")


def declare_parameters(node, node_type, descriptions, checks=None, live=()):
    """Declare each parameter with its description, its range and its default from config/params.yaml, by
    node type (so a renamed node, or a second instance, finds its defaults), and check the values in force.

    Returns the values in force (defaults overridden by --params-file or launch arguments) as a namespace
    that stays current: a parameter named in `live` can be changed while the node runs (`ros2 param set`),
    each change checked first and rejected with the reason when it fails; the others are read-only. A value
    of the wrong type, or one that fails its check, raises a ValueError naming the parameter at start. An
    integer is taken where a floating-point number is expected, and a number where a string is (a launch
    argument `source:=0` arrives as the integer 0); NaN and infinity are refused for every number. Names
    given to this node in a parameter file that it does not declare are warned about (a misspelt key would
    otherwise do nothing).
    """
    defaults = node_params(node_type)
    missing = set(descriptions) - set(defaults)
    if missing:
        raise KeyError(f"config/params.yaml has no default for {node_type}: {', '.join(sorted(missing))}")
    checks = checks or {}
    # rclpy keeps the values given to the node (files, launch, constructor) in _parameter_overrides, with no
    # public accessor; they are converted to the declared types here, before rclpy would refuse them.
    overrides = getattr(node, "_parameter_overrides", {})
    for name, description in descriptions.items():
        read_only = name not in live
        suffix = "" if read_only else " (can be changed while running)"
        descriptor = ParameterDescriptor(description=description + suffix, read_only=read_only)
        limits = checks[name].limits if name in checks else None
        if limits and isinstance(defaults[name], float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(limits[0]),
                                                                  to_value=float(limits[1]), step=0.0)]
        elif limits:
            descriptor.integer_range = [IntegerRange(from_value=int(limits[0]), to_value=int(limits[1]), step=1)]
        value = overrides[name].value if name in overrides else defaults[name]
        typed = converted(value, defaults[name])
        if typed is None:
            raise ValueError(f"parameter {name} of {node.get_name()} must be {_type_name(defaults[name])}, "
                             f"not {value!r} ({_type_name(value)})")
        problem = _problem(name, typed, checks)
        if problem:  # before rclpy, which would refuse a value outside the range with a traceback
            raise ValueError(f"parameter {name} of {node.get_name()} must be {problem}, not {typed!r}")
        if name in overrides:
            overrides[name] = Parameter(name, value=typed)
        node.declare_parameter(name, defaults[name], descriptor)
    values = SimpleNamespace(**{name: node.get_parameter(name).value for name in descriptions})
    unknown = sorted(set(overrides) - set(descriptions) - {"use_sim_time"})
    unknown = [name for name in unknown if not name.startswith("qos_overrides.")]
    if unknown:
        node.get_logger().warning(f"ignoring unknown parameter(s) {', '.join(unknown)}: {node_type} declares "
                                  f"{', '.join(descriptions)}")

    def convert_changes(parameters):
        changed = []
        for parameter in parameters:
            if parameter.name in descriptions:
                value = converted(parameter.value, defaults[parameter.name])
                if value is not None and type(value) is not type(parameter.value):
                    parameter = Parameter(parameter.name, value=value)
            changed.append(parameter)
        return changed

    def check_changes(parameters):
        for parameter in parameters:
            problem = _problem(parameter.name, parameter.value, checks)
            if problem:
                return SetParametersResult(successful=False, reason=f"{parameter.name} must be {problem}")
        return SetParametersResult(successful=True)

    def keep_changes(parameters):
        for parameter in parameters:
            if parameter.name in descriptions:
                setattr(values, parameter.name, parameter.value)

    node.add_pre_set_parameters_callback(convert_changes)
    node.add_on_set_parameters_callback(check_changes)
    node.add_post_set_parameters_callback(keep_changes)
    return values


def converted(value, default):
    """`value` as the type of `default`: an integer as a float, a number as a string; None when it cannot be."""
    if type(value) is type(default):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _problem(name, value, checks):
    """What `value` of the parameter `name` fails, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "a finite number"
    if name in checks and not checks[name].test(value):
        return checks[name].requirement
    return None


def _type_name(value):
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__)


def image_msg(image_bgr, header):
    msg = Image(header=header, **{k: v for k, v in image_fields(image_bgr).items() if k != "data"})
    msg.data = image_bgr.tobytes()
    return msg


def compressed_image_msg(image_bgr, header, image_format="jpeg"):
    return CompressedImage(header=header, **compressed_fields(image_bgr, image_format))


def roi_msg(box):
    x, y, w, h = (int(v) for v in box)
    return RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h)


def box_from_roi(roi):
    return (roi.x_offset, roi.y_offset, roi.width, roi.height)


def face_msg(detection, face_id):
    return Face(face_id=face_id, roi=roi_msg(detection.box), confidence=detection.confidence,
                keypoints=[float(v) for point in detection.keypoints for v in point])


def detection_from_face(face):
    """The Detection a Face message carries; keypoints of an odd count (a foreign publisher's) are dropped."""
    flat = list(face.keypoints) if len(face.keypoints) % 2 == 0 else []
    return Detection(box_from_roi(face.roi), face.confidence, tuple(zip(flat[::2], flat[1::2])))


def stamp_seconds(header):
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class StampGapCounter:
    """Counts the images missing from a stream by the gaps between their stamps.

    Whole frames can be lost in transport, or replaced in a subscription that keeps only the newest one
    while the node is busy; either way the node only sees a longer gap. The frame period is the median of
    the recent gaps, so one odd gap at the start cannot skew it.
    """

    def __init__(self, history=31, min_gaps=5):
        self.gaps = deque(maxlen=history)
        self.min_gaps = min_gaps
        self.last_stamp = None
        self.missing = 0

    def update(self, stamp):
        """Add the image stamped `stamp` (seconds); return how many images are missing just before it."""
        missed = 0
        if self.last_stamp is not None and stamp > self.last_stamp:
            gap = stamp - self.last_stamp
            if len(self.gaps) >= self.min_gaps:
                period = statistics.median(self.gaps)
                if gap > 1.5 * period:
                    missed = round(gap / period) - 1
            self.gaps.append(gap)
        self.last_stamp = stamp
        self.missing += missed
        return missed


AUTOSTART_DESCRIPTION = ("configure and activate at start (the model or detector loads, images are processed); "
                         "false leaves the node unconfigured for a lifecycle manager (ros2 lifecycle set)")


def start_lifecycle(node):
    """With the node's `autostart` parameter, configure and activate it now; a failed transition raises a
    ValueError with its reason (one line at start). Without, the node waits, unconfigured."""
    if not node.params.autostart:
        node.get_logger().info("unconfigured, waiting for a lifecycle manager (autostart: false)")
        return
    for transition in (node.trigger_configure, node.trigger_activate):
        if transition() != TransitionCallbackReturn.SUCCESS:
            raise ValueError(node.lifecycle_error or f"{transition.__name__} failed")


def refused_transition(node, error):
    """Log why a lifecycle transition cannot be made and refuse it (the node stays where it was)."""
    node.lifecycle_error = str(error)
    node.get_logger().error(node.lifecycle_error)
    return TransitionCallbackReturn.FAILURE


class NodeHealth:
    """What a node reports on /diagnostics once a second, for a robot's monitoring: input and output rates,
    processing latency, images skipped as bad and missing between the received ones, the last error, and
    `details` (detector, model). STALE after NO_INPUT_WARNING seconds without input (for nodes that
    `expects_input`: the node upstream stopped or died) or while `stale` is set; WARN while `problem` is set;
    ERROR after `fail()`."""

    NO_INPUT_WARNING = 5.0

    def __init__(self, node, details=None, expects_input=True):
        self.node, self.details, self.expects_input = node, dict(details or {}), expects_input
        self.state = ""  # a lifecycle node's state when it is not active, or "disabled": reported as such
        self.received = self.published = self.skipped = self.missing = 0
        self.latencies = deque(maxlen=200)
        self.started = self.last_input = time.monotonic()
        self.last_error = self.problem = self.stale = self.error = ""
        self._last_report = (self.started, 0, 0)
        self.publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.timer = node.create_timer(1.0, self.publish)

    def input(self):
        self.received += 1
        self.last_input = time.monotonic()

    def output(self, started=None):
        """One result published; `started` (time.monotonic()) when its input arrived, for the latency."""
        self.published += 1
        if started is not None:
            self.latencies.append(time.monotonic() - started)

    def skip(self, error):
        self.skipped += 1
        self.last_error = str(error)

    def fail(self, error):
        self.error = self.last_error = str(error)

    def status(self):
        now = time.monotonic()
        since, received, published = self._last_report
        self._last_report = (now, self.received, self.published)
        elapsed = max(now - since, 1e-9)
        silent = now - self.last_input
        if self.error:
            level, message = DiagnosticStatus.ERROR, self.error
        elif self.state:  # paused on purpose: no input is expected
            level, message = DiagnosticStatus.OK, self.state
        elif self.expects_input and silent > self.NO_INPUT_WARNING:
            level, message = DiagnosticStatus.STALE, f"no input for {silent:.0f} s"
        elif self.stale:
            level, message = DiagnosticStatus.STALE, self.stale
        elif self.problem:
            level, message = DiagnosticStatus.WARN, self.problem
        else:
            level, message = DiagnosticStatus.OK, "running"
        latencies = sorted(self.latencies)
        values = {
            "input per second": f"{(self.received - received) / elapsed:.1f}",
            "output per second": f"{(self.published - published) / elapsed:.1f}",
            "latency p50 (ms)": f"{latencies[len(latencies) // 2] * 1000:.1f}" if latencies else "",
            "latency max (ms)": f"{latencies[-1] * 1000:.1f}" if latencies else "",
            "inputs": str(self.received),
            "outputs": str(self.published),
            "skipped as bad": str(self.skipped),
            "missing (stamp gaps)": str(self.missing),
            "last error": self.last_error,
            **self.details,
        }
        return DiagnosticStatus(level=level, name=f"emotion_ros: {self.node.get_fully_qualified_name()}",
                                message=message, hardware_id=self.node.get_name(),
                                values=[KeyValue(key=key, value=str(value)) for key, value in values.items()])

    def publish(self):
        array = DiagnosticArray(status=[self.status()])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(array)


def params_files_in(arguments):
    """The files after each --params-file of a ROS command line."""
    return [path for flag, path in zip(arguments, arguments[1:]) if flag == "--params-file"]


def spin_node(node_class, args=None, reads_images=False):
    """The `main()` of every node executable: init, spin until Ctrl-C or shutdown, clean up.

    A node that cannot start (a bad parameter value, a missing file) exits with one line naming the
    problem and status 1, not a traceback. `reads_images`: the node subscribes to camera images, which
    chooses its Fast DDS profile.
    """
    use_shipped_dds_profile(reads_images)
    files = params_files_in(sys.argv if args is None else args)
    try:
        for path in files:  # rcl would parse any size of file, for minutes, before SIGINT is heard
            check_params_file(path)
    except (ValueError, OSError) as error:
        sys.exit(f"{node_class.__name__}: {error}")
    rclpy.init(args=args)
    try:
        node = node_class()
    except (ValueError, OSError) as error:
        rclpy.try_shutdown()
        given = f" (parameter files: {', '.join(files)})" if files else ""
        sys.exit(f"{node_class.__name__}: {error}{given}")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
