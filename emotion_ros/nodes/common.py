"""What the four nodes share: parameters declared from config/params.yaml, image QoS, message conversion."""

from types import SimpleNamespace

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image, RegionOfInterest

from ..config import node_params
from ..vision.images import image_fields

IMAGE_RELIABILITY_DESCRIPTION = (
    "subscribe to image_raw reliably: no photo is lost between processes (bag replay, photo folders), but a "
    "best-effort camera driver is not heard; false uses sensor-data QoS (best effort) for live cameras"
)


def image_qos(reliable, depth=1):
    """Only the newest `depth` images are kept, so a slow node never builds a backlog.

    Best effort (sensor data) hears every camera driver; large images between processes can be lost whole
    when one fragment is, which a reliable subscription repairs (it only matches reliable publishers).
    """
    reliability = QoSReliabilityPolicy.RELIABLE if reliable else QoSReliabilityPolicy.BEST_EFFORT
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability)

# The head's current state: a late subscriber (a screen that starts later) still gets it.
LATCHED_QOS = QoSProfile(
    history=QoSHistoryPolicy.KEEP_LAST, depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
)


def declare_parameters(node, descriptions):
    """Declare each parameter with its description and its default from config/params.yaml.

    Returns the values in force (defaults overridden by --params-file or launch arguments).
    """
    defaults = node_params(node.get_name())
    missing = set(descriptions) - set(defaults)
    if missing:
        raise KeyError(f"config/params.yaml has no default for {node.get_name()}: {', '.join(sorted(missing))}")
    values = {}
    for name, description in descriptions.items():
        node.declare_parameter(name, defaults[name], ParameterDescriptor(description=description))
        values[name] = node.get_parameter(name).value
    return SimpleNamespace(**values)


def image_msg(image_bgr, header):
    msg = Image(header=header, **{k: v for k, v in image_fields(image_bgr).items() if k != "data"})
    msg.data = image_bgr.tobytes()
    return msg


def roi_msg(box):
    x, y, w, h = (int(v) for v in box)
    return RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h)


def box_from_roi(roi):
    return (roi.x_offset, roi.y_offset, roi.width, roi.height)


def stamp_seconds(header):
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def spin_node(node_class, args=None):
    """The `main()` of every node executable: init, spin until Ctrl-C or shutdown, clean up."""
    rclpy.init(args=args)
    node = node_class()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
