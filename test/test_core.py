"""The ROS-free core on real photos: detectors, the photo pipeline, frame sources, input checks."""

import shutil
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from emotion_ros import CLASSES
from emotion_ros.vision.haar import HaarDetector
from emotion_ros.vision.mtcnn import MtcnnDetector
from emotion_ros.vision.detectors import detect_faces, make_detector
from emotion_ros.vision.pipeline import PhotoPipeline, analyze_image, crop_face
from emotion_ros.apps.samples import copy_samples, sample_photos, sample_video
from emotion_ros.nodes.sources import FrameSource, parse_source

GROUP_PHOTO, SECOND_GROUP_PHOTO = sample_photos()[:2]


@pytest.fixture(scope="module")
def group_photo():
    return cv2.imread(str(GROUP_PHOTO))


@pytest.fixture(scope="module")
def mtcnn():
    return MtcnnDetector()


def test_mtcnn_finds_every_face_of_group_photos(mtcnn, group_photo):
    assert len(mtcnn(group_photo)) == 6
    assert len(mtcnn(cv2.imread(str(SECOND_GROUP_PHOTO)))) == 5


def test_haar_finds_most_faces_of_a_group_photo(group_photo):
    boxes = [d.box for d in HaarDetector()(group_photo)]
    assert 4 <= len(boxes) <= 6
    height, width = group_photo.shape[:2]
    assert all(x >= 0 and y >= 0 and x + w <= width and y + h <= height for x, y, w, h in boxes)


def test_analyze_image_gives_one_result_per_face(group_photo):
    faces = analyze_image(group_photo)
    assert analyze_image(GROUP_PHOTO) == analyze_image(str(GROUP_PHOTO)) == faces  # its path reads as it does
    assert len(faces) == 6
    height, width = group_photo.shape[:2]
    assert [face.face_id for face in faces] == [f"face_{i}" for i in range(6)]
    assert [face.box[0] for face in faces] == sorted(face.box[0] for face in faces)  # left to right
    for face in faces:
        x, y, w, h = face.box
        assert 0 <= x < x + w <= width and 0 <= y < y + h <= height
        assert list(face.scores) == list(CLASSES)
        assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert face.label == max(face.scores, key=face.scores.get)
        assert face.confidence == pytest.approx(face.scores[face.label])
        assert -1.0 <= face.valence <= 1.0 and -1.0 <= face.arousal <= 1.0


def test_gray_photo_is_analysed_like_its_colour_version(group_photo):
    pipeline = PhotoPipeline("haar")
    gray = cv2.cvtColor(group_photo, cv2.COLOR_BGR2GRAY)
    colour_faces, gray_faces = pipeline.analyze(group_photo), pipeline.analyze(gray)
    assert [f.box for f in gray_faces] == [f.box for f in colour_faces]
    for colour_face, gray_face in zip(colour_faces, gray_faces):
        assert gray_face.scores == pytest.approx(colour_face.scores, abs=1e-5)


@pytest.mark.parametrize(
    "bad_image, message",
    [
        (np.zeros((0, 0, 3), np.uint8), "too small"),
        (np.zeros((1, 1, 3), np.uint8), "too small"),
        (np.zeros((64, 64, 3), np.float32), "must be uint8"),
        (np.zeros((64, 64, 4), np.uint8), "shape"),
        (None, "no image"),
        ([[0, 0], [0, 0]], "numpy array"),
        ("no_such_photo.jpg", "No such file"),
    ],
)
def test_bad_images_give_a_clear_error(bad_image, message):
    with pytest.raises(ValueError, match=message):
        analyze_image(bad_image, detector="haar")


def test_unknown_detector_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown detector 'yolo'"):
        make_detector("yolo")


def test_crop_face_adds_the_margin_and_stays_inside_the_image():
    image = np.zeros((100, 200, 3), np.uint8)
    assert crop_face(image, (50, 20, 40, 40), margin=0.25).shape == (60, 60, 3)
    assert crop_face(image, (60, 20, 20, 40)).shape == (40, 40, 3)  # a square of the longer side
    assert crop_face(image, (0, 0, 40, 40), margin=0.25).shape == (50, 50, 3)  # clipped at the corner
    with pytest.raises(ValueError, match="outside"):
        crop_face(image, (300, 20, 40, 40))


def test_photo_directory_source_skips_unreadable_files_and_ends(tmp_path):
    copy_samples(tmp_path)
    (tmp_path / "03_broken.jpg").write_text("not a jpeg")
    source = FrameSource(tmp_path, loop=False)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    assert len(frames) == len(sample_photos())
    assert source.finished and "sent" in source.status


def test_photo_directory_source_loops(tmp_path):
    shutil.copy(GROUP_PHOTO, tmp_path / "a.jpg")
    source = FrameSource(tmp_path, loop=True)
    assert all(source.read() is not None for _ in range(3))
    assert not source.finished


def test_video_source_reads_real_frames():
    source = FrameSource(sample_video(), loop=False)
    frame = source.read()
    assert frame is not None and frame.ndim == 3 and frame.dtype == np.uint8
    source.release()


def test_missing_camera_is_retried_not_raised():
    source = FrameSource("/dev/video97", retry_period=60.0)
    assert source.read() is None
    assert "cannot open camera /dev/video97" in source.status
    assert source.read() is None  # waits for the retry period instead of hammering the device
    assert not source.finished


def test_source_kinds(tmp_path):
    assert parse_source("0") == ("camera", 0)
    assert parse_source("/dev/video2") == ("camera", "/dev/video2")
    assert parse_source(str(tmp_path)) == ("photos", tmp_path)
    with pytest.raises(FileNotFoundError, match="neither a camera"):
        parse_source(str(tmp_path / "missing.mp4"))


def test_detect_faces_scales_huge_images_down_and_keeps_the_largest_faces():
    from emotion_ros.vision.detectors import detect_faces

    photo = cv2.imread(str(sample_photos()[0]))  # a group photo of six faces
    detector = HaarDetector()
    height, width = photo.shape[:2]
    big = cv2.resize(photo, (width * 3, height * 3), interpolation=cv2.INTER_LINEAR)
    scaled = detect_faces(detector, big, max_image_side=max(width, height))
    on_copy = detector(cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA))
    assert len(scaled) == len(on_copy) >= 4
    for face, small_face in zip(scaled, on_copy):
        assert face.box == pytest.approx([3 * v for v in small_face.box], abs=3)
    full = detect_faces(detector, photo)
    two = detect_faces(detector, photo, max_faces=2)
    areas = sorted((d.box[2] * d.box[3] for d in full), reverse=True)
    assert sorted((d.box[2] * d.box[3] for d in two), reverse=True) == areas[:2]


def camera_frame(encoding, bgr):
    """The frame a camera driver would publish for `bgr` in `encoding` (fields of sensor_msgs/Image)."""
    from types import SimpleNamespace

    height, width = bgr.shape[:2]
    if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv"):
        code = cv2.COLOR_BGR2YUV_UYVY if encoding in ("yuv422", "uyvy") else cv2.COLOR_BGR2YUV_YUY2
        data = cv2.cvtColor(bgr, code)
    elif encoding.startswith("bayer_"):
        pattern = encoding[6:10]  # the colours of the 2x2 cell, row by row: rggb, bggr, gbrg, grbg
        channel = {"b": 0, "g": 1, "r": 2}
        data = np.empty((height, width), np.uint8)
        for index, colour in enumerate(pattern):
            row, col = divmod(index, 2)
            data[row::2, col::2] = bgr[row::2, col::2, channel[colour]]
    elif encoding == "mono16":
        data = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(">u2") * 257
        return SimpleNamespace(height=height, width=width, encoding=encoding, is_bigendian=1, step=width * 2,
                               data=data.tobytes())
    else:
        raise ValueError(encoding)
    data = np.ascontiguousarray(data)
    return SimpleNamespace(height=height, width=width, encoding=encoding, is_bigendian=0,
                           step=data.strides[0], data=data.tobytes())


@pytest.mark.parametrize("encoding", ["yuv422", "uyvy", "yuv422_yuy2", "yuyv", "bayer_rggb8", "bayer_bggr8",
                                      "bayer_gbrg8", "bayer_grbg8", "mono16"])
def test_camera_driver_encodings_give_back_the_photo(encoding):
    from emotion_ros.vision.images import image_from_msg

    photo = cv2.imread(str(sample_photos()[2]))[:400, :300]  # a posed face, even sides
    image = image_from_msg(camera_frame(encoding, photo))
    assert image.shape == photo.shape and image.dtype == np.uint8
    error = np.abs(image.astype(int) - photo).mean()
    if encoding == "mono16":
        gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(int)
        stretched = (gray - gray.min()) * 255 / (gray.max() - gray.min())
        assert np.abs(image[:, :, 0] - stretched).mean() < 1.0
        return
    swapped = np.abs(image[:, :, ::-1].astype(int) - photo).mean()  # red and blue exchanged
    assert error < 6.0 and error < swapped / 1.5, (error, swapped)


def test_image_sizes_are_read_from_jpeg_and_png_headers_and_bombs_refused_before_decoding(tmp_path):
    import resource

    from emotion_ros.vision.images import encoded_size, image_from_compressed, read_photo

    image = np.zeros((37, 53, 3), np.uint8)
    for suffix, params in ((".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), (".png", [])):
        assert encoded_size(cv2.imencode(suffix, image, params)[1]) == (53, 37)
    with pytest.raises(ValueError, match="neither JPEG nor PNG"):
        encoded_size(b"GIF89a....")
    png = bytearray(cv2.imencode(".png", image)[1].tobytes())
    png[16:24] = (30000).to_bytes(4, "big") * 2  # the header of a 30000x30000 PNG
    photo = tmp_path / "bomb.png"
    photo.write_bytes(png)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="30000x30000 pixels is larger than 8192"):
        read_photo(photo)
    with pytest.raises(ValueError, match="larger than 8192"):
        image_from_compressed(SimpleNamespace(format="png", data=bytes(png)))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing was decoded
    thin = tmp_path / "thin.png"
    cv2.imwrite(str(thin), np.zeros((1, 4000, 3), np.uint8))
    with pytest.raises(ValueError, match="too small to hold a face: 4000x1"):
        detect_faces(make_detector("blazeface"), read_photo(thin), max_image_side=1920)


def test_a_looping_video_that_is_cut_or_removed_is_opened_again_when_it_is_back(tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(sample_video(), video)
    source = FrameSource(video, loop=True, retry_period=0.2)
    assert all(source.read() is not None for _ in range(10))
    original = video.read_bytes()
    video.write_bytes(b"")  # truncated while playing
    frames = [source.read() for _ in range(200)]  # the rest of the clip, then no more
    assert frames[-1] is None and not source.finished
    assert "changed or vanished; reopening" in source.status
    video.unlink()
    time.sleep(0.3)
    assert source.read() is None and "cannot open video" in source.status
    video.write_bytes(original)  # back
    time.sleep(0.3)
    assert any(source.read() is not None for _ in range(5))
