"""rosbag2 input and output without a ROS installation, through the pure-Python `rosbags` library.

Bags are written in rosbag2 metadata version 9, the version that Jazzy and Kilted `ros2 bag` write
and read, with the type hashes (RIHS01) that rosidl computes, so `ros2 bag play` accepts them.
"""

import contextlib
import csv
import functools
import itertools
import logging
import mmap
import re
import shutil
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from tqdm import tqdm

from ..classes import CLASSES
from ..paths import PACKAGE_DIR, atomic_output
from ..vision.images import IMAGE_SUFFIXES, image_fields, image_from_msg, read_photo
from ..vision.video import FACE_COLUMNS

log = logging.getLogger(__name__)

BAG_VERSION = 9
IMAGE_TYPE = "sensor_msgs/msg/Image"
# A bag's metadata.yaml is a few kilobytes.
MAX_METADATA_BYTES = 1 << 20
EMOTIONS_TYPE = "emotion_ros/msg/EmotionArray"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class BagError(ValueError):
    """A path that is not a readable rosbag2 bag (missing, truncated, not a bag at all)."""


@dataclass
class RecordSummary:
    bag_path: Path
    topic: str
    written: int
    skipped: list = field(default_factory=list)  # (photo path, reason) of photos left out


@dataclass
class AnalyzeSummary:
    out_bag_path: Path
    csv_path: Path | None
    topics: dict  # image topic -> emotions topic
    images: int
    faces: int
    skipped: int = 0  # images that could not be read


def _msg_dir():
    """The installed messages are what the ROS nodes use, so they win over the source checkout."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("emotion_ros")) / "msg")
    except (ImportError, LookupError, OSError):  # not installed, or no AMENT_PREFIX_PATH
        pass
    candidates += [PACKAGE_DIR.parent / "msg", PACKAGE_DIR / "msg_definitions"]  # source checkout, pip install
    for candidate in candidates:
        if (candidate / "EmotionArray.msg").is_file():
            return candidate
    raise FileNotFoundError(f"no emotion_ros msg directory found, looked in {[str(c) for c in candidates]}")


@functools.cache
def typestore():
    """The Kilted typestore plus our messages, parsed from the same .msg files that rosidl builds."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted(_msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"emotion_ros/msg/{path.stem}"))
    store.register(types)
    return store


def absolute_topic(topic):
    """Bags store fully qualified names; `image_raw` on the command line means `/image_raw`."""
    return topic if topic.startswith("/") else "/" + topic


def emotions_topic(image_topic):
    """The results of `<ns>/<image>` go to `<ns>/emotions`: /image_raw -> /emotions."""
    namespace = absolute_topic(image_topic).rsplit("/", 1)[0]
    return f"{namespace}/emotions"


def _header(stamp_ns, frame_id):
    types = typestore().types
    stamp = types["builtin_interfaces/msg/Time"](sec=int(stamp_ns) // 10**9, nanosec=int(stamp_ns) % 10**9)
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def stamp_to_ns(stamp):
    """builtin_interfaces/Time as one integer, the unit of bag timestamps."""
    return stamp.sec * 10**9 + stamp.nanosec


def image_to_msg(image_bgr, stamp_ns, frame_id):
    """bgr8 for colour, mono8 for grayscale: the encodings every ROS image consumer understands."""
    return typestore().types[IMAGE_TYPE](header=_header(stamp_ns, frame_id), **image_fields(image_bgr))


def _roi(box):
    """RegionOfInterest is unsigned: a detector box that starts left of or above the image is clipped."""
    x, y, w, h = (int(round(float(v))) for v in box)
    return typestore().types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=max(x, 0), y_offset=max(y, 0), width=max(w + min(x, 0), 0),
        height=max(h + min(y, 0), 0), do_rectify=False)


def _face_id(face, index):
    """A photo's faces have no tracker ids; Face.msg names them face_<n> by order."""
    return face.face_id or f"face_{index}"


def emotions_to_msg(faces, stamp_ns, frame_id):
    types = typestore().types
    emotions = [
        types["emotion_ros/msg/Emotion"](
            face_id=_face_id(face, index), roi=_roi(face.box), label=face.label,
            confidence=float(face.confidence),
            scores=np.array([face.scores[name] for name in CLASSES], dtype=np.float32),
            valence=float(face.valence), arousal=float(face.arousal))
        for index, face in enumerate(faces)
    ]
    return types[EMOTIONS_TYPE](header=_header(stamp_ns, frame_id), classes=list(CLASSES), emotions=emotions)


@contextlib.contextmanager
def _new_bag(bag_path, storage):
    """A failed run leaves no half-written bag behind that a later run would refuse to overwrite."""
    if storage not in STORAGES:
        raise ValueError(f"unknown bag format {storage!r}; choose one of {', '.join(STORAGES)}")
    bag_path = Path(bag_path)
    if bag_path.exists():
        raise FileExistsError(f"{bag_path} exists already; not overwriting it")
    writer = Writer(bag_path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
    writer.open()  # outside the clean-up: a bag that appeared meanwhile is not ours to remove
    try:
        yield writer
        writer.close()
        if storage == "mcap":
            add_chunk_checksums(bag_path / f"{bag_path.name}.mcap")
    except BaseException:
        with contextlib.suppress(Exception):
            writer.abort()
        shutil.rmtree(bag_path, ignore_errors=True)
        raise


def _decode_photo(path):
    """Returns (image, None) or (None, reason): one bad file must not stop a whole folder."""
    try:
        return read_photo(path, cv2.IMREAD_ANYCOLOR), None
    except ValueError as error:
        return None, str(error)


def record_photos(photo_dir, bag_path, fps=1.0, topic="/image_raw", frame_id="camera", storage="mcap",
                  start_ns=None):
    """Turns a folder of photos into a camera-like stream, so the stream nodes can be tried on them."""
    photo_dir = Path(photo_dir)
    if not photo_dir.is_dir():
        raise NotADirectoryError(f"{photo_dir} is not a directory")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if Path(bag_path).exists():
        raise FileExistsError(f"{bag_path} exists already; not overwriting it")
    topic = absolute_topic(topic)
    start_ns = time.time_ns() if start_ns is None else int(start_ns)
    paths = sorted((p for p in photo_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: p.name)
    skipped = []

    def readable_photos():
        for path in paths:
            image, reason = _decode_photo(path)
            if image is None:
                log.warning("skipping %s: %s", path, reason)
                skipped.append((path, reason))
            else:
                yield image

    photos = readable_photos()
    first = next(photos, None)
    if first is None:
        reasons = "; ".join(f"{p.name}: {r}" for p, r in skipped) or "no .jpg/.jpeg/.png/.bmp/.webp files"
        raise ValueError(f"no readable photo in {photo_dir} ({reasons})")
    store = typestore()
    written = 0
    with _new_bag(bag_path, storage) as writer:
        connection = writer.add_connection(topic, IMAGE_TYPE, typestore=store)
        for image in itertools.chain([first], photos):
            stamp_ns = start_ns + round(written * 1e9 / fps)
            msg = image_to_msg(image, stamp_ns, frame_id)
            writer.write(connection, stamp_ns, store.serialize_cdr(msg, IMAGE_TYPE))
            written += 1
    return RecordSummary(bag_path=Path(bag_path), topic=topic, written=written, skipped=skipped)


MCAP_MAGIC = b"\x89MCAP0\r\n"
MCAP_CHUNK = 0x06


def add_chunk_checksums(mcap_path):
    """Write the CRC-32 of each uncompressed MCAP chunk, which rosbags leaves at 0 ("none"): with it, a
    reader finds image data corrupted inside the file (rosbags checks it) instead of analysing garbage.

    MCAP records are an opcode byte, a little-endian uint64 length and the content; a chunk's content
    starts with its start and end times and uncompressed size (3 x uint64), then the uint32 CRC, the
    compression name (uint32 length + bytes) and the records (uint64 length + bytes).
    """
    with open(mcap_path, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as data:
        if data[:8] != MCAP_MAGIC:
            raise BagError(f"{mcap_path} is not an MCAP file")
        position = len(MCAP_MAGIC)
        while position + 9 <= len(data) - len(MCAP_MAGIC):
            opcode, length = data[position], struct.unpack_from("<Q", data, position + 1)[0]
            content = position + 9
            if opcode == MCAP_CHUNK:
                crc_at = content + 24
                compression_length = struct.unpack_from("<I", data, crc_at + 4)[0]
                records_at = crc_at + 8 + compression_length
                records_length = struct.unpack_from("<Q", data, records_at)[0]
                if compression_length == 0:  # uncompressed: the records are the bytes to check
                    records = data[records_at + 8 : records_at + 8 + records_length]
                    struct.pack_into("<I", data, crc_at, zlib.crc32(records))
            position = content + length


@contextlib.contextmanager
def _bag_errors(bag_path):
    """rosbags raises many kinds of errors for a broken file; callers get one that names the bag."""
    try:
        yield
    except Exception as err:
        raise BagError(f"{bag_path} is not a readable rosbag2 bag: {err}") from err


def _image_connections(reader, topic, bag_path):
    images = [c for c in reader.connections if c.msgtype == IMAGE_TYPE]
    image_topics = sorted({c.topic for c in images})
    if topic is None:
        if not images:
            all_topics = ", ".join(sorted({c.topic for c in reader.connections})) or "none"
            raise ValueError(f"{bag_path} has no {IMAGE_TYPE} topic (topics: {all_topics})")
        return images
    topic = absolute_topic(topic)
    chosen = [c for c in images if c.topic == topic]
    if not chosen:
        raise ValueError(f"{bag_path} has no {IMAGE_TYPE} topic {topic} "
                         f"(image topics: {', '.join(image_topics) or 'none'})")
    return chosen


def _raw_messages(reader, connections, bag_path):
    """Yields (connection, log time ns, raw CDR); the errors of a broken file surface here, mid-iteration."""
    with _bag_errors(bag_path):
        messages = reader.messages(connections)
    while True:
        with _bag_errors(bag_path):
            item = next(messages, None)
        if item is None:
            return
        yield item


def _deserialized(reader, connections, bag_path):
    """Yields (topic, log time ns, message); a message that does not deserialize (garbage bytes) is logged
    with its topic and time and skipped, the next one read."""
    store = typestore()
    for connection, log_time, raw in _raw_messages(reader, connections, bag_path):
        try:
            msg = store.deserialize_cdr(raw, connection.msgtype)
        except Exception as err:  # rosbags raises many kinds for bytes that are not the type's CDR
            log.warning("%s, %s at log time %d ns: not a readable %s (%s); skipped", bag_path, connection.topic,
                        log_time, connection.msgtype, err)
            continue
        yield connection.topic, log_time, msg


def _check_uncompressed(bag_path):
    """Refuse a compressed bag before rosbags opens it: it would decompress a whole file into the temporary
    folder (or each message into memory) with no bound, and a few kilobytes of zstd can expand to gigabytes."""
    metadata = Path(bag_path) / "metadata.yaml"
    if not metadata.is_file():
        return
    if metadata.stat().st_size > MAX_METADATA_BYTES:
        raise BagError(f"{metadata} is {metadata.stat().st_size} bytes, too large for a bag's metadata")
    text = metadata.read_text(errors="replace")
    mode = re.search(r"^\s*compression_mode:\s*['\"]?(\w*)", text, re.M)
    if mode and mode.group(1).lower() not in ("", "none"):
        raise BagError(f"{bag_path} is compressed (compression_mode: {mode.group(1)}), which is not read here: "
                       "`ros2 bag convert` writes an uncompressed copy")


@contextlib.contextmanager
def _open_reader(bag_path):
    bag_path = Path(bag_path)
    if not bag_path.exists():
        raise BagError(f"{bag_path} does not exist")
    _check_uncompressed(bag_path)
    with _bag_errors(bag_path):
        reader = Reader(bag_path)
        reader.open()
    try:
        yield reader
    finally:
        reader.close()


@contextlib.contextmanager
def _open_images(bag_path, topic):
    """Gives the chosen image connections before the messages, for progress totals and output topics."""
    with _open_reader(bag_path) as reader:
        connections = _image_connections(reader, topic, bag_path)
        yield connections, _deserialized(reader, connections, bag_path)


@contextlib.contextmanager
def open_raw_messages(bag_path):
    """For replay without deserializing: every connection first (to set up publishers), then
    (connection, log time ns, raw CDR bytes) in log time order. A broken file raises BagError."""
    with _open_reader(bag_path) as reader:
        yield reader.connections, _raw_messages(reader, reader.connections, bag_path)


def _decode(msg, bag_path, topic):
    try:
        return image_from_msg(msg)
    except ValueError as err:
        raise ValueError(f"{bag_path}, {topic} at {stamp_to_ns(msg.header.stamp)} ns: {err}") from None


def read_images(bag_path, topic=None):
    """Yields (stamp_ns, topic, frame_id, image_bgr) with the header stamp, in bag order."""
    with _open_images(bag_path, topic) as (_, messages):
        for image_topic, _, msg in messages:
            image = _decode(msg, bag_path, image_topic)
            yield stamp_to_ns(msg.header.stamp), image_topic, msg.header.frame_id, image


CSV_COLUMNS = ("stamp_ns", "stamp", "frame_id", "image_index", *FACE_COLUMNS, "topic")


def _csv_rows(msg, image_index, topic):
    """Rows come from the written message, so the CSV and the bag can never disagree."""
    stamp_ns = stamp_to_ns(msg.header.stamp)
    seconds = f"{stamp_ns // 10**9}.{stamp_ns % 10**9:09d}"  # exact: a float64 cannot hold epoch nanoseconds
    for emotion in msg.emotions:
        roi = emotion.roi
        numbers = [emotion.confidence, *emotion.scores, emotion.valence, emotion.arousal]
        confidence, *scores, valence, arousal = (f"{number:.6g}" for number in numbers)
        yield [stamp_ns, seconds, msg.header.frame_id, image_index, emotion.face_id,
               roi.x_offset, roi.y_offset, roi.width, roi.height, emotion.label, confidence, *scores,
               valence, arousal, topic]


@contextlib.contextmanager
def _csv_table(csv_path):
    """Yields a csv writer, or None without a path; the table appears whole when the run ends, or not at all."""
    if csv_path is None:
        yield None
        return
    with atomic_output(csv_path) as temporary, temporary.open("w", newline="") as file:
        table = csv.writer(file)
        table.writerow(CSV_COLUMNS)
        yield table


def _check_new_output(path, bag_path, force=False):
    """Refuse an output inside or equal to the input bag, or one that exists (unless `force`)."""
    path, bag = Path(path).resolve(), Path(bag_path).resolve()
    if path == bag or bag in path.parents:
        raise ValueError(f"{path} is part of the input bag {bag_path}: choose another output")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists already; not overwriting it (--force replaces it)")


def _output_topics(connections):
    outputs = {c.topic: emotions_topic(c.topic) for c in connections}
    sources = {}
    for image_topic, output in outputs.items():
        sources.setdefault(output, []).append(image_topic)
    for output, image_topics in sources.items():
        if len(image_topics) > 1:
            raise ValueError(f"image topics {', '.join(image_topics)} would all write {output}; "
                             "choose one of them")
    return outputs


def analyze_bag(bag_path, out_bag_path, csv_path=None, analyze=None, topic=None, progress=True,
                storage="mcap", force=False):
    """Runs the photo pipeline on every image of a bag, offline, with the stream's stamps and frames.

    `analyze(image_bgr) -> list[FaceEmotion]` defaults to emotion_ros.pipeline.analyze_image. The new bag
    holds only the EmotionArray results, each written at its image's bag time on `emotions_topic()` of
    its image topic; play it together with the input bag to see both. An image that cannot be read is
    logged with its topic and stamp and skipped (counted in the summary); the others are analysed. An
    existing CSV file is replaced only with `force`; the bag is never.
    """
    _check_new_output(out_bag_path, bag_path)
    if csv_path is not None:
        _check_new_output(csv_path, bag_path, force)
    store = typestore()
    images = faces = skipped = 0
    with _open_images(bag_path, topic) as (connections, messages):
        outputs = _output_topics(connections)
        if analyze is None:  # imported only now: loading the model is slow, a wrong path should fail first
            from ..vision.pipeline import analyze_image as analyze
        total = sum(c.msgcount for c in connections)
        with (_new_bag(out_bag_path, storage) as writer, _csv_table(csv_path) as table,
              tqdm(total=total, unit="image", disable=not progress) as bar):
            out_connections = {image_topic: writer.add_connection(output, EMOTIONS_TYPE, typestore=store)
                               for image_topic, output in outputs.items()}
            for image_topic, log_time, msg in messages:
                try:
                    image = _decode(msg, bag_path, image_topic)
                except ValueError as err:
                    log.warning("%s; skipped", err)
                    skipped += 1
                    bar.update()
                    continue
                results = analyze(image)
                out = emotions_to_msg(results, stamp_to_ns(msg.header.stamp), msg.header.frame_id)
                writer.write(out_connections[image_topic], log_time, store.serialize_cdr(out, EMOTIONS_TYPE))
                if table is not None:
                    table.writerows(_csv_rows(out, images, image_topic))
                images += 1
                faces += len(results)
                bar.update()
    csv_path = None if csv_path is None else Path(csv_path)
    return AnalyzeSummary(out_bag_path=Path(out_bag_path), csv_path=csv_path, topics=outputs, images=images,
                          faces=faces, skipped=skipped)
