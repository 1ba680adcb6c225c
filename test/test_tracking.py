"""FaceTracker: stable ids on boxes and on faces that the stream detector finds in real sample photos."""

import cv2
import numpy as np
import pytest

from emotion_ros.apps.bench import FRAME_SIZE, panning_clip, posed_photos
from emotion_ros.vision.blazeface import BlazeFaceStreamDetector
from emotion_ros.vision.tracking import FaceTracker, face_distance, size_ratio

FPS = 30.0


def posed_photo(name):
    return cv2.imread(str(next(path for path in posed_photos() if path.name == name)))


def test_face_distance_is_relative_to_the_face_size():
    assert face_distance((0, 0, 10, 10), (10, 0, 10, 10)) == pytest.approx(1.0)
    assert face_distance((0, 0, 100, 100), (10, 0, 100, 100)) == pytest.approx(0.1)
    assert size_ratio((0, 0, 10, 10), (5, 5, 20, 20)) == pytest.approx(2.0)


def test_a_moving_box_keeps_its_id():
    tracker = FaceTracker()
    ids = [tracker.update([(100 + 8 * frame, 50 + 2 * frame, 80 + frame, 80 + frame)], frame / FPS)
           for frame in range(60)]
    assert ids == [["face_1"]] * 60


def test_two_faces_get_two_ids_whatever_their_order():
    tracker = FaceTracker()
    left, right = (50, 100, 90, 90), (400, 120, 100, 100)
    assert tracker.update([left, right], 0.0) == ["face_1", "face_2"]
    assert tracker.update([right, left], 1 / FPS) == ["face_2", "face_1"]
    assert tracker.face_ids == {"face_1", "face_2"}


def test_a_short_miss_keeps_the_id_and_a_long_one_gives_a_new_id():
    tracker = FaceTracker(max_missed_seconds=0.5)
    box = (200, 100, 120, 120)
    assert tracker.update([box], 0.0) == ["face_1"]
    assert [tracker.update([], frame / 10) for frame in range(1, 4)] == [[]] * 3
    assert tracker.update([box], 0.4) == ["face_1"]  # back after 0.4 s
    assert [tracker.update([], frame / 10) for frame in range(5, 10)] == [[]] * 5
    assert tracker.face_ids == {"face_1"}
    assert tracker.update([], 1.0) == []  # missed for 0.6 s
    assert tracker.face_ids == set()
    assert tracker.update([box], 1.1) == ["face_2"]  # a new face: face_1 is not reused


def test_a_pause_in_the_frames_is_not_a_miss():
    """A node that fell behind takes the newest frame; the face in it is the face it saw last."""
    tracker = FaceTracker(max_missed_seconds=0.5)
    box = (200, 100, 120, 120)
    assert tracker.update([box], 0.0) == ["face_1"]
    assert tracker.update([box], 2.0) == ["face_1"]
    assert tracker.update([], 4.0) == []  # not found after a pause: gone
    assert tracker.update([box], 4.1) == ["face_2"]


def test_a_far_or_much_larger_box_is_another_face():
    tracker = FaceTracker()
    tracker.update([(100, 100, 100, 100)], 0.0)
    assert tracker.update([(260, 100, 100, 100)], 1 / FPS) == ["face_2"]
    assert tracker.update([(250, 100, 200, 200)], 2 / FPS) == ["face_3"]


def test_an_id_is_given_after_min_hits_detections():
    tracker = FaceTracker(min_hits=2)
    box = (10, 10, 60, 60)
    assert tracker.update([box], 0.0) == [""]  # a one-frame false alarm would not consume an id
    assert tracker.face_ids == set()
    assert tracker.update([box], 1 / FPS) == ["face_1"]
    assert tracker.update([box], 2 / FPS) == ["face_1"]


def test_a_real_face_moving_and_growing_across_the_frame_keeps_one_id():
    clip = panning_clip(posed_photo("0-f15-hao-ph.jpg"), frames=40)
    detector, tracker = BlazeFaceStreamDetector(), FaceTracker()
    ids, lefts = [], []
    for frame, image in enumerate(clip):
        boxes = [d.box for d in detector(image)]
        ids += tracker.update(boxes, frame / FPS)
        lefts += [box[0] for box in boxes]
    assert len(ids) >= 0.9 * len(clip)  # the face is found in (nearly) every frame
    assert set(ids) == {"face_1"}
    assert max(lefts) - min(lefts) > FRAME_SIZE[0] / 3  # it did move across the frame


def test_two_real_faces_side_by_side_keep_two_ids():
    width, height = FRAME_SIZE
    faces = [cv2.resize(posed_photo(name), (260, 260), interpolation=cv2.INTER_AREA)
             for name in ("0-f1-su-ph.jpg", "15-f13-anc-ph.jpg")]
    detector, tracker = BlazeFaceStreamDetector(), FaceTracker()
    per_frame = []
    for frame in range(20):
        image = np.full((height, width, 3), 90, np.uint8)
        top = 100 + 2 * frame  # both drift down a little
        image[top : top + 260, 40 : 300] = faces[0]
        image[top : top + 260, 340 + frame : 600 + frame] = faces[1]
        detections = sorted(detector(image), key=lambda d: d.box[0])
        per_frame.append(tracker.update([d.box for d in detections], frame / FPS))
    two_faces = [ids for ids in per_frame if len(ids) == 2]
    assert len(two_faces) >= 18
    assert all(ids == two_faces[0] for ids in two_faces)
    assert len(set(two_faces[0])) == 2
