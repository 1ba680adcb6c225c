"""The `emotion-ros bag` command: rosbag2 files without a ROS installation.

Each sub-command is one add_*_parser function; only `play` needs rclpy, imported when it runs.
"""

import argparse
import sys

from ..vision.detectors import PHOTO_DETECTORS


def _positive_float(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _fail(command, err):
    """One line, no traceback: these failures are about the user's files, not the program."""
    print(f"emotion-ros bag {command}: error: {err}", file=sys.stderr)
    raise SystemExit(1)


def _record_photos(args):
    from . import bag_io

    start_ns = None if args.start_time is None else round(args.start_time * 1e9)
    try:
        summary = bag_io.record_photos(args.photo_dir, args.output, fps=args.fps, topic=args.topic,
                                     frame_id=args.frame_id, storage=args.format, start_ns=start_ns)
    except (OSError, ValueError) as err:
        _fail("record-photos", err)
    print(f"wrote {summary.written} images to {summary.bag_path} on {summary.topic} at {args.fps:g} fps "
          f"({args.format})")
    for path, reason in summary.skipped:
        print(f"skipped {path}: {reason}")


def add_record_photos_parser(commands):
    parser = commands.add_parser(
        "record-photos", help="turn a folder of photos into a bag of sensor_msgs/Image",
        description="Write one sensor_msgs/msg/Image per photo (.jpg .jpeg .png .bmp .webp, sorted by name) "
                    "into a new rosbag2 bag, as if a camera had taken them at FPS. Unreadable files are "
                    "reported and skipped.")
    parser.add_argument("photo_dir", metavar="DIR", help="folder of photos (not searched recursively)")
    parser.add_argument("-o", "--output", metavar="BAG", required=True,
                        help="bag directory to create; must not exist")
    parser.add_argument("--fps", type=_positive_float, default=1.0,
                        help="photos per second of bag time (default 1)")
    parser.add_argument("--topic", default="/image_raw", help="image topic (default /image_raw)")
    parser.add_argument("--frame-id", default="camera", help="header.frame_id of the images (default camera)")
    parser.add_argument("--format", choices=("mcap", "sqlite3"), default="mcap",
                        help="rosbag2 storage (default mcap, the ROS 2 default since Iron)")
    parser.add_argument("--start-time", type=float, metavar="SECONDS",
                        help="stamp of the first photo in seconds since the epoch (default now); "
                             "fix it for reproducible bags")
    parser.set_defaults(run=_record_photos)


def _analyze(args):
    import functools

    from . import bag_io

    try:
        from ..vision.pipeline import analyze_image

        summary = bag_io.analyze_bag(args.bag, args.output, csv_path=args.csv,
                                   analyze=functools.partial(analyze_image, detector=args.detector),
                                   topic=args.topic, progress=not args.no_progress, storage=args.format,
                                   force=args.force)
    except (OSError, ValueError, ImportError) as err:
        _fail("analyze", err)
    topics = ", ".join(f"{image} -> {emotions}" for image, emotions in summary.topics.items())
    skipped = f", {summary.skipped} unreadable image(s) skipped" if summary.skipped else ""
    print(f"analyzed {summary.images} images, {summary.faces} faces{skipped}: {summary.out_bag_path} ({topics})")
    if summary.csv_path is not None:
        print(f"one row per face: {summary.csv_path}")


def add_analyze_parser(commands):
    parser = commands.add_parser(
        "analyze", help="find faces and their emotions in every image of a bag",
        description="Run the photo pipeline on every sensor_msgs/msg/Image of BAG and write the results as "
                    "emotion_ros/msg/EmotionArray into a new bag, one per image with its stamp and frame_id, "
                    "on <namespace of the image topic>/emotions (/image_raw -> /emotions, "
                    "/camera/image_raw -> /camera/emotions).")
    parser.add_argument("bag", metavar="BAG", help="input bag directory (or a single .mcap/.db3 file)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="bag directory to create for the results; must not exist")
    parser.add_argument("--csv", metavar="FILE", help="also write one CSV row per face")
    parser.add_argument("--force", action="store_true", help="replace an existing CSV file")
    parser.add_argument("--detector", choices=PHOTO_DETECTORS, default="blazeface",
                        help="face detector (default blazeface; mtcnn needs TensorFlow; haar misses turned faces)")
    parser.add_argument("--topic", metavar="T", help="image topic to analyze (default: every image topic)")
    parser.add_argument("--format", choices=("mcap", "sqlite3"), default="mcap",
                        help="storage of the output bag (default mcap)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_analyze)


def topic_remap(text):
    """argparse type of FROM:=TO, ROS's remapping syntax."""
    source, separator, target = text.partition(":=")
    if not (separator and source and target):
        raise argparse.ArgumentTypeError(f"expected FROM:=TO, got {text!r}")
    return source, target


def _play(args):
    try:
        import rclpy

        from ..nodes.common import use_shipped_dds_profile
        from .player import play_bag
    except ImportError as err:
        _fail("play", f"needs rclpy and the ROS message packages: {err}")

    # args=[]: this command's arguments are not ROS arguments (FROM:=TO would become a global remap);
    # rclpy's Ctrl-C handler shuts the context down, which ends play_bag cleanly
    use_shipped_dds_profile()  # camera-size images reach the nodes of other processes
    rclpy.init(args=[])
    try:
        summary = play_bag(args.bag, rate=args.rate, loop=args.loop, topic_remaps=dict(args.topic_remap),
                           publish_clock=args.clock)
    except (OSError, ValueError) as err:
        _fail("play", err)
    finally:
        rclpy.try_shutdown()
    print(f"played {summary.published} messages on {', '.join(summary.topics.values())}")


def add_play_parser(commands):
    parser = commands.add_parser(
        "play", help="publish the messages of a bag on the live ROS graph (like ros2 bag play)",
        description="Publish every message of BAG at its recorded timing, once each topic has a subscriber "
                    "(or after a timeout). Needs rclpy and the message packages of the bag.")
    parser.add_argument("bag", metavar="BAG", help="bag directory (or a single .mcap/.db3 file)")
    parser.add_argument("--rate", type=_positive_float, default=1.0,
                        help="speed factor: 2 plays twice as fast, 0.5 half as fast (default 1)")
    parser.add_argument("--loop", action="store_true", help="start again at the end, until Ctrl-C")
    parser.add_argument("--topic-remap", type=topic_remap, nargs="+", action="extend", default=[],
                        metavar="FROM:=TO", help="publish bag topic FROM on TO instead (repeatable)")
    parser.add_argument("--clock", action="store_true",
                        help="publish each message's bag time on /clock, for nodes with use_sim_time")
    parser.set_defaults(run=_play)


def add_bag_parser(subparsers):
    parser = subparsers.add_parser(
        "bag", help="make, analyze and play rosbag2 bags (no ros2 bag needed)",
        description="Work with rosbag2 bags (mcap or sqlite3) through the pure-Python rosbags library; "
                    "`play` publishes them with rclpy.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    add_record_photos_parser(commands)
    add_analyze_parser(commands)
    add_play_parser(commands)
    return parser
