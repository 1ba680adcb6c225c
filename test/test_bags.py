"""rosbag2 I/O on real files: photos written with OpenCV, bags read back with rosbags itself."""

import argparse
import csv
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import interrupted
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from emotion_ros import CLASSES
from emotion_ros.bags.commands import add_bag_parser
from emotion_ros.vision.images import image_from_msg
from emotion_ros.bags.bag_io import (
    CSV_COLUMNS, BagError, analyze_bag, emotions_to_msg, emotions_topic, image_to_msg, read_images, record_photos,
    typestore)
from emotion_ros.results import FaceEmotion

START_NS = 1_700_000_000 * 10**9 + 123
FPS = 4.0
STEP_NS = 250_000_000
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def photo_dir(tmp_path):
    """Three photos of different sizes and kinds, one corrupt .jpg and a file that is no photo."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = {
        "a_colour.png": rng.integers(0, 256, (30, 41, 3), dtype=np.uint8),
        "b_gray.png": rng.integers(0, 256, (25, 17), dtype=np.uint8),
        "c_colour.jpg": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
    }
    for name, image in photos.items():
        assert cv2.imwrite(str(folder / name), image)
    (folder / "d_corrupt.jpg").write_text("this is not a JPEG")
    (folder / "notes.txt").write_text("not a photo, not reported")
    return folder, photos


def _record(photo_dir, tmp_path, storage):
    folder, _ = photo_dir
    return record_photos(folder, tmp_path / f"bag_{storage}", fps=FPS, frame_id="cam", storage=storage,
                         start_ns=START_NS)


def _image(msg_bytes, height, width, encoding, step):
    types = typestore().types
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=1, nanosec=2),
                                          frame_id="f")
    return types["sensor_msgs/msg/Image"](header=header, height=height, width=width, encoding=encoding,
                                          is_bigendian=0, step=step, data=np.frombuffer(msg_bytes, np.uint8))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_record_photos_writes_one_image_per_readable_photo(photo_dir, tmp_path, storage):
    _, photos = photo_dir
    summary = _record(photo_dir, tmp_path, storage)

    assert summary.written == 3
    assert summary.topic == "/image_raw"
    skipped = [(path.name, reason) for path, reason in summary.skipped]
    assert skipped == [("d_corrupt.jpg", "not a decodable image")]
    assert re.search(r"^\s*version: 9$", (summary.bag_path / "metadata.yaml").read_text(), re.M)

    plain_kilted = get_typestore(Stores.ROS2_KILTED)  # not ours: the bag must stand on its own
    with Reader(summary.bag_path) as reader:
        assert [(c.topic, c.msgtype) for c in reader.connections] == [("/image_raw", "sensor_msgs/msg/Image")]
        records = [(log_time, plain_kilted.deserialize_cdr(raw, c.msgtype))
                   for c, log_time, raw in reader.messages()]

    expected_stamps = [START_NS + i * STEP_NS for i in range(3)]
    assert [log_time for log_time, _ in records] == expected_stamps
    assert [msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec for _, msg in records] == expected_stamps
    assert {msg.header.frame_id for _, msg in records} == {"cam"}
    colour, gray, jpeg = (msg for _, msg in records)
    assert (colour.encoding, colour.height, colour.width, colour.step) == ("bgr8", 30, 41, 41 * 3)
    assert np.array_equal(np.asarray(colour.data).reshape(30, 41, 3), photos["a_colour.png"])
    assert (gray.encoding, gray.height, gray.width, gray.step) == ("mono8", 25, 17, 17)
    assert np.array_equal(np.asarray(gray.data).reshape(25, 17), photos["b_gray.png"])
    assert (jpeg.encoding, jpeg.height, jpeg.width) == ("bgr8", 48, 64)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_read_images_returns_the_recorded_photos_as_bgr(photo_dir, tmp_path, storage):
    _, photos = photo_dir
    bag = _record(photo_dir, tmp_path, storage).bag_path

    images = list(read_images(bag))
    assert [(stamp, topic, frame) for stamp, topic, frame, _ in images] == [
        (START_NS + i * STEP_NS, "/image_raw", "cam") for i in range(3)]
    assert np.array_equal(images[0][3], photos["a_colour.png"])
    assert np.array_equal(images[1][3], cv2.cvtColor(photos["b_gray.png"], cv2.COLOR_GRAY2BGR))
    assert images[2][3].shape == (48, 64, 3)
    assert len(list(read_images(bag, topic="image_raw"))) == 3
    with pytest.raises(ValueError, match="no sensor_msgs/msg/Image topic /other.*image topics: /image_raw"):
        list(read_images(bag, topic="/other"))


def test_record_photos_refuses_to_overwrite_and_needs_a_readable_photo(photo_dir, tmp_path):
    bag = _record(photo_dir, tmp_path, "mcap").bag_path
    with pytest.raises(FileExistsError, match="exists already"):
        _record(photo_dir, tmp_path, "mcap")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"")
    (broken / "y.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="no readable photo.*x.png: empty file; y.jpg: not a decodable"):
        record_photos(broken, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    assert bag.exists()


def test_image_messages_round_trip():
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (4, 6), dtype=np.uint8)

    msg = image_to_msg(colour, 3 * 10**9 + 5, "cam")
    assert (msg.encoding, msg.step, msg.header.stamp.sec, msg.header.stamp.nanosec) == ("bgr8", 21, 3, 5)
    assert np.array_equal(image_from_msg(msg), colour)
    assert image_to_msg(gray, 0, "cam").encoding == "mono8"
    assert np.array_equal(image_from_msg(image_to_msg(gray, 0, "cam")), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    with pytest.raises(ValueError, match="uint8"):
        image_to_msg(colour.astype(np.float32), 0, "cam")


def test_image_from_msg_handles_encodings_and_row_padding():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    padded = np.zeros((3, 16), np.uint8)  # 12 bytes of pixels and 4 of padding per row
    padded[:, :12] = rgb.reshape(3, 12)
    padded[:, 12:] = 99
    assert np.array_equal(image_from_msg(_image(padded.tobytes(), 3, 4, "rgb8", 16)), rgb[:, :, ::-1])

    gray = rng.integers(0, 256, (3, 5), dtype=np.uint8)
    padded_gray = np.pad(gray, ((0, 0), (0, 3)), constant_values=7)
    assert np.array_equal(image_from_msg(_image(padded_gray.tobytes(), 3, 5, "mono8", 8)),
                          np.repeat(gray[:, :, None], 3, axis=2))

    rgba = rng.integers(0, 256, (2, 2, 4), dtype=np.uint8)
    assert np.array_equal(image_from_msg(_image(rgba.tobytes(), 2, 2, "rgba8", 8)), rgba[:, :, 2::-1])
    assert np.array_equal(image_from_msg(_image(rgba.tobytes(), 2, 2, "bgra8", 8)), rgba[:, :, :3])


def test_image_from_msg_rejects_bad_messages():
    with pytest.raises(ValueError, match="unsupported image encoding '16UC1'"):
        image_from_msg(_image(bytes(8), 2, 2, "16UC1", 4))
    with pytest.raises(ValueError, match="47 bytes, fewer than step x height = 48"):
        image_from_msg(_image(bytes(47), 4, 4, "bgr8", 12))
    with pytest.raises(ValueError, match="step 10 is shorter than a row of 4 bgr8 pixels"):
        image_from_msg(_image(bytes(40), 4, 4, "bgr8", 10))


def _broken_bag(kind, photo_dir, tmp_path):
    if kind == "empty directory":
        path = tmp_path / "empty"
        path.mkdir()
    elif kind == "text file":
        path = tmp_path / "notes.txt"
        path.write_text("hello, I am not a bag\n" * 20)
    elif kind == "missing":
        path = tmp_path / "missing"
    else:
        path = _record(photo_dir, tmp_path, kind).bag_path
        storage_file = next(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
        os.truncate(storage_file, storage_file.stat().st_size // 2)
    return path


@pytest.mark.parametrize("kind", ["empty directory", "text file", "missing", "mcap", "sqlite3"])
def test_broken_bags_give_a_clear_error_naming_the_path(kind, photo_dir, tmp_path):
    path = _broken_bag(kind, photo_dir, tmp_path)
    with pytest.raises(BagError, match=re.escape(str(path))):
        list(read_images(path))
    with pytest.raises(BagError, match=re.escape(str(path))):
        analyze_bag(path, tmp_path / "out", analyze=_bright_region_analyzer, progress=False)
    assert not (tmp_path / "out").exists()


def test_typestore_hashes_match_rosidl_when_the_package_is_built():
    """ros2 bag play refuses types whose hash differs from the one rosidl generated."""
    store = typestore()
    share = ROOT / "install" / "emotion_ros" / "share" / "emotion_ros" / "msg"
    built = sorted(share.glob("*.json"))
    if not built:
        pytest.skip("emotion_ros is not built with colcon here")
    for path in built:
        expected = json.loads(path.read_text())["type_hashes"][0]
        assert store.hash_rihs01(expected["type_name"]) == expected["hash_string"]


def test_emotions_topic():
    assert emotions_topic("/image_raw") == "/emotions"
    assert emotions_topic("image_raw") == "/emotions"
    assert emotions_topic("/camera/color/image_raw") == "/camera/color/emotions"


SCORES = dict(zip(CLASSES, (0.05, 0.05, 0.05, 0.6, 0.05, 0.1, 0.1)))


def _bright_region_analyzer(image_bgr):
    """A real, if simple, analysis: the 'face' is the bounding box of the bright pixels."""
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    points = cv2.findNonZero((gray > 127).astype(np.uint8))
    if points is None:
        return []
    x, y, w, h = cv2.boundingRect(points)
    return [FaceEmotion(box=(x, y, w, h), label="happy", confidence=0.6, scores=dict(SCORES),
                        valence=float(gray[y:y + h, x:x + w].mean() / 255), arousal=0.25)]


def test_emotions_to_msg():
    faces = [FaceEmotion(box=(-3, 4, 10, 12), label="happy", confidence=0.6, scores=SCORES,
                         face_id="track_7"),
             FaceEmotion(box=(1, 2, 3, 4), label="sad", confidence=0.5, scores=SCORES, valence=-0.4,
                         arousal=0.1)]
    msg = emotions_to_msg(faces, 5 * 10**9 + 6, "cam")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (5, 6, "cam")
    assert msg.classes == list(CLASSES)
    first, second = msg.emotions
    assert first.face_id == "track_7" and second.face_id == "face_1"
    assert (first.roi.x_offset, first.roi.y_offset, first.roi.width, first.roi.height) == (0, 4, 7, 12)
    assert (second.label, second.valence, second.arousal) == ("sad", pytest.approx(-0.4), pytest.approx(0.1))
    assert np.allclose(second.scores, [SCORES[name] for name in CLASSES])


def test_analyze_bag_writes_one_emotion_array_per_image_and_a_matching_csv(tmp_path):
    folder = tmp_path / "rectangles"
    folder.mkdir()
    rectangles = {"1.png": ((40, 30), (5, 6, 12, 9)), "2.png": ((50, 60), (20, 3, 7, 25)),
                  "3.png": ((32, 32), None)}
    for name, ((height, width), rect) in rectangles.items():
        image = np.zeros((height, width, 3), np.uint8)
        if rect:
            x, y, w, h = rect
            image[y:y + h, x:x + w] = 255
        assert cv2.imwrite(str(folder / name), image)
    bag = record_photos(folder, tmp_path / "in", fps=FPS, frame_id="cam", start_ns=START_NS).bag_path

    summary = analyze_bag(bag, tmp_path / "out", csv_path=tmp_path / "faces.csv",
                          analyze=_bright_region_analyzer, progress=False, storage="sqlite3")
    assert (summary.images, summary.faces, summary.topics) == (3, 2, {"/image_raw": "/emotions"})

    # the plain Kilted store knows no emotion_ros types: AnyReader must learn them from the bag
    with AnyReader([tmp_path / "out"], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        assert [(c.topic, c.msgtype) for c in reader.connections] == [
            ("/emotions", "emotion_ros/msg/EmotionArray")]
        records = [(log_time, reader.deserialize(raw, c.msgtype)) for c, log_time, raw in reader.messages()]
    stamps = [START_NS + i * STEP_NS for i in range(3)]
    assert [log_time for log_time, _ in records] == stamps
    assert [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in records] == stamps
    messages = [msg for _, msg in records]
    for msg, (_, rect) in zip(messages, rectangles.values()):
        assert msg.header.frame_id == "cam" and list(msg.classes) == list(CLASSES)
        assert [(e.roi.x_offset, e.roi.y_offset, e.roi.width, e.roi.height) for e in msg.emotions] == (
            [rect] if rect else [])
    assert all(e.label == "happy" and e.face_id == "face_0" for m in messages for e in m.emotions)
    assert messages[0].emotions[0].valence == pytest.approx(1.0)

    with (tmp_path / "faces.csv").open(newline="") as file:
        table = csv.DictReader(file)
        assert tuple(table.fieldnames) == CSV_COLUMNS
        rows = list(table)
    faces = [(index, msg, emotion) for index, msg in enumerate(messages) for emotion in msg.emotions]
    assert len(rows) == len(faces) == 2
    for row, (index, msg, emotion) in zip(rows, faces):
        stamp_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        assert (int(row["stamp_ns"]), Decimal(row["stamp"]) * 10**9) == (stamp_ns, stamp_ns)
        assert (row["frame_id"], int(row["image_index"])) == ("cam", index)
        roi = emotion.roi
        assert [int(row[k]) for k in "xywh"] == [roi.x_offset, roi.y_offset, roi.width, roi.height]
        assert (row["face_id"], row["label"], row["topic"]) == (emotion.face_id, emotion.label, "/image_raw")
        assert float(row["confidence"]) == pytest.approx(emotion.confidence)
        assert [float(row[f"score_{name}"]) for name in CLASSES] == pytest.approx(list(emotion.scores))
        assert float(row["valence"]) == pytest.approx(emotion.valence, abs=1e-6)

    with pytest.raises(FileExistsError, match="exists already"):
        analyze_bag(bag, tmp_path / "out", analyze=_bright_region_analyzer, progress=False)


def test_analyze_bag_removes_its_partial_output_when_the_analysis_fails(photo_dir, tmp_path):
    bag = _record(photo_dir, tmp_path, "mcap").bag_path

    def fails_on_gray(image_bgr):
        if np.array_equal(image_bgr[:, :, 0], image_bgr[:, :, 2]):
            raise RuntimeError("model failed")
        return _bright_region_analyzer(image_bgr)

    with pytest.raises(RuntimeError, match="model failed"):
        analyze_bag(bag, tmp_path / "out", csv_path=tmp_path / "faces.csv", analyze=fails_on_gray,
                    progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "faces.csv").exists()


def _cli():
    parser = argparse.ArgumentParser(prog="emotion-ros")
    add_bag_parser(parser.add_subparsers(required=True))
    return parser


def test_cli_record_photos(photo_dir, tmp_path, capsys):
    folder, _ = photo_dir
    argv = ["bag", "record-photos", str(folder), "-o", str(tmp_path / "bag"), "--fps", "2",
            "--topic", "cam/image", "--format", "sqlite3", "--start-time", "1700000000.5"]
    args = _cli().parse_args(argv)
    args.run(args)
    out = capsys.readouterr().out
    assert "wrote 3 images" in out and "/cam/image" in out and "d_corrupt.jpg" in out
    assert [stamp for stamp, *_ in read_images(tmp_path / "bag")] == [
        1_700_000_000_500_000_000 + i * 500_000_000 for i in range(3)]

    args = _cli().parse_args(argv)
    with pytest.raises(SystemExit) as exit_info:
        args.run(args)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "record-photos: error:" in err and "exists already" in err

    with pytest.raises(SystemExit) as exit_info:
        _cli().parse_args(["bag", "record-photos", str(folder), "-o", "x", "--fps", "0"])
    assert exit_info.value.code == 2


def test_cli_analyze_arguments():
    args = _cli().parse_args(["bag", "analyze", "in_bag", "-o", "out_bag", "--csv", "f.csv",
                              "--detector", "haar"])
    assert (args.bag, args.output, args.csv, args.detector, args.topic, args.format) == (
        "in_bag", "out_bag", "f.csv", "haar", None, "mcap")
    assert callable(args.run)


def test_image_data_corrupted_inside_an_mcap_bag_is_reported(photo_dir, tmp_path):
    """Our MCAP bags carry chunk checksums, so a flipped byte in the image data is found, not analysed."""
    folder, _ = photo_dir
    bag = record_photos(folder, tmp_path / "bag", storage="mcap").bag_path
    assert len(list(read_images(bag))) >= 2
    mcap = next(bag.glob("*.mcap"))
    data = bytearray(mcap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mcap.write_bytes(bytes(data))
    with pytest.raises(BagError, match=f"{bag} is not a readable rosbag2 bag: Chunk checksum mismatch"):
        list(read_images(bag))


def test_a_bad_frame_is_skipped_with_its_topic_and_stamp_and_no_earlier_result_is_lost(tmp_path, caplog):
    from rosbags.rosbag2 import Writer

    store = typestore()
    bag = tmp_path / "mixed"
    writer = Writer(bag, version=9)
    writer.open()
    images = writer.add_connection("/image_raw", "sensor_msgs/msg/Image", typestore=store)
    frame = np.zeros((40, 50, 3), np.uint8)
    frame[5:20, 5:25] = 255
    for index in range(3):
        msg = image_to_msg(frame, START_NS + index * STEP_NS, "cam")
        if index == 1:
            msg.encoding = "16UC1"  # unreadable
        writer.write(images, START_NS + index * STEP_NS, store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    writer.write(images, START_NS + 3 * STEP_NS, b"\x00\x01\x00\x00garbage")  # not an Image at all
    writer.close()

    earlier = tmp_path / "faces.csv"
    earlier.write_text("an earlier result\n")
    with pytest.raises(FileExistsError, match="--force replaces it"):
        analyze_bag(bag, tmp_path / "out", csv_path=earlier, analyze=_bright_region_analyzer, progress=False)
    assert earlier.read_text() == "an earlier result\n" and not (tmp_path / "out").exists()
    storage = next(path for path in bag.iterdir() if path.name != "metadata.yaml")
    with pytest.raises(ValueError, match="is part of the input bag"):
        analyze_bag(bag, tmp_path / "out", csv_path=storage, analyze=_bright_region_analyzer, progress=False)
    with Reader(bag) as reader:
        assert reader.message_count == 4  # the input is whole

    with caplog.at_level("WARNING"):
        summary = analyze_bag(bag, tmp_path / "out", csv_path=earlier, analyze=_bright_region_analyzer,
                              progress=False, force=True)
    assert (summary.images, summary.faces, summary.skipped) == (2, 2, 1)
    assert f"/image_raw at {START_NS + STEP_NS} ns: unsupported image encoding '16UC1'" in caplog.text
    assert f"/image_raw at log time {START_NS + 3 * STEP_NS} ns: not a readable sensor_msgs/msg/Image" in caplog.text
    with earlier.open(newline="") as file:
        assert [int(row["stamp_ns"]) for row in csv.DictReader(file)] == [START_NS, START_NS + 2 * STEP_NS]


@pytest.mark.parametrize("mode", ["file", "message"])
def test_compressed_bags_are_refused_before_anything_is_decompressed(photo_dir, tmp_path, mode):
    bag = _record(photo_dir, tmp_path, "mcap").bag_path
    metadata = bag / "metadata.yaml"
    metadata.write_text(re.sub(r"compression_mode: .*", f"compression_mode: {mode.upper()}", metadata.read_text()))
    with pytest.raises(BagError, match=f"is compressed \\(compression_mode: {mode.upper()}\\).*ros2 bag convert"):
        list(read_images(bag))
    with pytest.raises(BagError, match="is compressed"):
        analyze_bag(bag, tmp_path / "out", analyze=_bright_region_analyzer, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("signum", [2, 15], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_record_or_analyze_leaves_no_partial_bag_or_csv_and_no_traceback(tmp_path, signum):
    from emotion_ros.apps.samples import sample_photos

    photos = tmp_path / "photos"
    photos.mkdir()
    group = sample_photos()[0].read_bytes()
    for index in range(300):
        (photos / f"{index:03d}.jpg").write_bytes(group)

    code, errors = interrupted(["bag", "record-photos", str(photos), "-o", str(tmp_path / "partial")], after=1.5,
                               signum=signum)
    assert code == 130 and "Traceback" not in errors and not (tmp_path / "partial").exists(), errors
    bag = record_photos(photos, tmp_path / "whole", fps=FPS, start_ns=START_NS).bag_path
    code, errors = interrupted(["bag", "analyze", str(bag), "-o", str(tmp_path / "out"), "--csv",
                                str(tmp_path / "f.csv"), "--no-progress"], after=6, signum=signum)
    assert code == 130 and "Traceback" not in errors, errors
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("*f.*csv"))
