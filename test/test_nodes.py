"""The four nodes on real rclpy, exchanging real messages: the whole pipeline on real photos, and bad input."""


from pathlib import Path

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")

from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, RegionOfInterest  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402

from conftest import DOMAIN_ID, spin_for, spin_until, start  # noqa: E402

from emotion_ros import CLASSES  # noqa: E402
from emotion_ros.nodes.bringup import NODE_CLASSES, ros_arguments  # noqa: E402
from emotion_ros.nodes.camera_node import CameraNode  # noqa: E402
from emotion_ros.nodes.emotion_classifier_node import EmotionClassifierNode  # noqa: E402
from emotion_ros.nodes.face_detection_node import FaceDetectionNode  # noqa: E402
from emotion_ros.msg import Emotion, EmotionArray, Face, FaceArray, SocialResponse  # noqa: E402
from emotion_ros.nodes.common import LATCHED_QOS, SOCKET_BUFFER_NEEDED, image_msg, socket_buffer_limit  # noqa: E402
from emotion_ros.paths import config_path  # noqa: E402
from emotion_ros.vision.classifier import ENSEMBLE_MODEL_PATHS, MODEL_PATH  # noqa: E402
from emotion_ros.apps.samples import sample_photos  # noqa: E402

GROUP_PHOTO, SECOND_GROUP_PHOTO, POSED_SURPRISE = sample_photos()[:3]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init(args=ros_arguments([config_path("photos.yaml")]), domain_id=DOMAIN_ID)
    yield
    rclpy.try_shutdown()


class Recorder(Node):
    """Keeps every message the pipeline publishes, by topic."""

    def __init__(self):
        super().__init__("test_recorder")
        self.received = {topic: [] for topic in ("image_raw", "faces", "emotions", "emoji", "question",
                                                 "social_response")}
        self.create_subscription(Image, "image_raw", self.keep("image_raw"), qos_profile_sensor_data)
        self.create_subscription(FaceArray, "faces", self.keep("faces"), 10)
        self.create_subscription(EmotionArray, "emotions", self.keep("emotions"), 10)
        self.create_subscription(String, "emoji", self.keep("emoji"), LATCHED_QOS)
        self.create_subscription(String, "question", self.keep("question"), 10)
        self.create_subscription(SocialResponse, "social_response", self.keep("social_response"), 10)
        self.image_publisher = self.create_publisher(Image, "image_raw", 10)
        self.faces_publisher = self.create_publisher(FaceArray, "faces", 10)

    def keep(self, topic):
        return lambda msg: self.received[topic].append(msg)

    def stamps(self, topic):
        return [(m.header.stamp.sec, m.header.stamp.nanosec) for m in self.received[topic]]


def header(sec):
    return Header(frame_id="test_camera", stamp=rclpy.time.Time(seconds=sec).to_msg())


def test_four_nodes_publish_emotions_emoji_and_question_for_real_photos(executor, tmp_path):
    for index, photo in enumerate((GROUP_PHOTO, SECOND_GROUP_PHOTO, POSED_SURPRISE)):
        (tmp_path / f"{index}_{photo.name}").write_bytes(photo.read_bytes())
    recorder = Recorder()
    camera_overrides = [Parameter("source", value=str(tmp_path)), Parameter("frame_id", value="head_camera")]
    start(executor, recorder, *(node_class() for node_class in NODE_CLASSES[1:]))
    start(executor, CameraNode(parameter_overrides=camera_overrides))

    assert spin_until(executor, lambda: len(recorder.received["emotions"]) == 3, timeout=120.0)
    assert spin_until(executor, lambda: recorder.received["question"] and recorder.received["emoji"], 10.0)

    images, arrays = recorder.received["image_raw"], recorder.received["emotions"]
    assert recorder.stamps("emotions") == recorder.stamps("image_raw")
    assert [len(array.emotions) for array in arrays] == [6, 5, 1]
    for image, array in zip(images, arrays):
        assert array.header.frame_id == "head_camera"
        assert tuple(array.classes) == CLASSES
        for emotion in array.emotions:
            roi = emotion.roi
            assert roi.width > 0 and roi.height > 0
            assert roi.x_offset + roi.width <= image.width and roi.y_offset + roi.height <= image.height
            assert sum(emotion.scores) == pytest.approx(1.0, abs=1e-3)
            assert emotion.label == CLASSES[int(np.argmax(emotion.scores))]
            assert emotion.confidence == pytest.approx(max(emotion.scores))
    assert recorder.received["emoji"][0].data
    response = recorder.received["social_response"][0]
    assert (response.header.stamp.sec, response.header.stamp.nanosec) in recorder.stamps("image_raw")
    assert response.emoji == recorder.received["emoji"][0].data and response.question


def bad_images(good):
    wrong_encoding = image_msg(good, header(1.0))
    wrong_encoding.encoding = "16UC1"
    short_data = image_msg(good, header(2.0))
    short_data.data = short_data.data[: len(short_data.data) // 2]
    one_row = image_msg(np.full((1, 4000, 3), 128, np.uint8), header(2.1))  # once killed the detector
    one_column = image_msg(np.full((4000, 1, 3), 128, np.uint8), header(2.2))
    return [wrong_encoding, short_data, one_row, one_column]


def jpeg_claiming(width, height):
    """A 16x16 JPEG whose header says width x height: a few hundred bytes that would decode to gigabytes."""
    data = bytearray(cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes())
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_face_detection_skips_bad_frames_and_processes_the_next_good_one(executor):
    recorder = Recorder()
    detector = FaceDetectionNode(parameter_overrides=[Parameter("detector", value="haar")])
    start(executor, recorder, detector)
    assert spin_until(executor, lambda: recorder.image_publisher.get_subscription_count() >= 2, 10.0)
    good = cv2.imread(str(GROUP_PHOTO))
    for bad in bad_images(good):
        recorder.image_publisher.publish(bad)
        spin_for(executor, 0.5)
    recorder.image_publisher.publish(image_msg(good, header(3.0)))
    assert spin_until(executor, lambda: recorder.received["faces"], 30.0)
    assert recorder.stamps("faces") == [(3, 0)]
    assert len(recorder.received["faces"][0].faces) >= 4


def test_classifier_skips_bad_pairs_and_classifies_the_next_good_one(executor):
    recorder = Recorder()
    start(executor, recorder, EmotionClassifierNode())
    assert spin_until(executor, lambda: recorder.faces_publisher.get_subscription_count() >= 1, 10.0)
    good = cv2.imread(str(POSED_SURPRISE))
    height, width = good.shape[:2]
    inside = Face(face_id="face_0", roi=RegionOfInterest(x_offset=100, y_offset=100, width=200, height=250))
    outside = Face(face_id="face_0", roi=RegionOfInterest(x_offset=width + 10, y_offset=0, width=50, height=50))
    wrong_encoding, short_data, *_ = bad_images(good)
    pairs = [
        (image_msg(good, header(4.0)), FaceArray(header=header(4.0), faces=[outside, inside])),
        (wrong_encoding, FaceArray(header=wrong_encoding.header, faces=[inside])),
        (short_data, FaceArray(header=short_data.header, faces=[inside])),
        (image_msg(good, header(5.0)), FaceArray(header=header(5.0), faces=[inside])),
    ]
    for image, faces in pairs:
        recorder.image_publisher.publish(image)
        spin_for(executor, 0.3)
        recorder.faces_publisher.publish(faces)
        spin_for(executor, 0.3)
    assert spin_until(executor, lambda: len(recorder.received["emotions"]) == 2, 10.0)
    assert recorder.stamps("emotions") == [(4, 0), (5, 0)]  # a box outside the image costs only its own face
    assert [len(array.emotions) for array in recorder.received["emotions"]] == [1, 1]
    assert recorder.received["emotions"][0].emotions[0].roi == inside.roi


def test_classifier_caps_the_faces_of_one_image(executor):
    """A FaceArray of 500 faces (from any publisher) is cut to max_faces, the largest kept, in their order."""
    recorder = Recorder()
    start(executor, recorder, EmotionClassifierNode(parameter_overrides=[Parameter("max_faces", value=3)]))
    assert spin_until(executor, lambda: recorder.faces_publisher.get_subscription_count() >= 1, 10.0)
    image = cv2.imread(str(GROUP_PHOTO))
    faces = [Face(face_id=f"face_{index}", roi=RegionOfInterest(x_offset=index % 400, y_offset=10, width=20 + index % 7,
                                                                height=20 + index % 7)) for index in range(500)]
    recorder.image_publisher.publish(image_msg(image, header(6.0)))
    spin_for(executor, 0.3)
    recorder.faces_publisher.publish(FaceArray(header=header(6.0), faces=faces))
    assert spin_until(executor, lambda: recorder.received["emotions"], 10.0)
    face_ids = [emotion.face_id for emotion in recorder.received["emotions"][0].emotions]
    assert face_ids == ["face_6", "face_13", "face_20"]  # the first three of the largest size (26 px)


def test_detector_searches_huge_frames_on_a_smaller_copy(executor):
    """An 8K frame is searched at max_image_side; the boxes come back in the frame's own pixels."""
    recorder = Recorder()
    detector = FaceDetectionNode(parameter_overrides=[Parameter("detector", value="haar"),
                                                      Parameter("max_image_side", value=1280)])
    start(executor, recorder, detector)
    assert spin_until(executor, lambda: recorder.image_publisher.get_subscription_count() >= 2, 10.0)
    photo = cv2.imread(str(POSED_SURPRISE))
    scale = 7680 / photo.shape[1]
    huge = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    recorder.image_publisher.publish(image_msg(huge, header(7.0)))
    assert spin_until(executor, lambda: recorder.received["faces"], 30.0)
    (face,) = recorder.received["faces"][0].faces
    assert face.roi.width > 0.25 * huge.shape[1]  # the posed face fills much of the photo
    assert face.roi.x_offset + face.roi.width <= huge.shape[1] and face.roi.y_offset + face.roi.height <= huge.shape[0]


def test_camera_skips_unreadable_photos(executor, tmp_path):
    (tmp_path / "0_broken.jpg").write_text("not a jpeg")
    (tmp_path / "1_face.jpg").write_bytes(POSED_SURPRISE.read_bytes())
    recorder = Recorder()
    camera = CameraNode(parameter_overrides=[Parameter("source", value=str(tmp_path)), Parameter("fps", value=5.0)])
    start(executor, recorder, camera)
    assert spin_until(executor, lambda: recorder.received["image_raw"], 10.0)
    image = recorder.received["image_raw"][0]
    assert (image.height, image.width, image.encoding) == (*cv2.imread(str(POSED_SURPRISE)).shape[:2], "bgr8")


def test_camera_node_survives_a_missing_camera(executor):
    camera = CameraNode(parameter_overrides=[Parameter("source", value="/dev/video97"), Parameter("fps", value=20.0),
                                             Parameter("retry_period", value=0.2)])
    start(executor, camera)
    spin_for(executor, 1.0)
    assert camera.frames_published == 0
    assert "cannot open camera /dev/video97" in camera.source.status


def test_a_burst_of_frames_does_not_queue_the_newest_is_processed(executor):
    """Images faster than detection: the subscription keeps only the newest, nothing piles up."""
    recorder = Recorder()
    start(executor, recorder, FaceDetectionNode(parameter_overrides=[Parameter("detector", value="mtcnn")]))
    assert spin_until(executor, lambda: recorder.image_publisher.get_subscription_count() >= 2, 10.0)
    frame = cv2.imread(str(SECOND_GROUP_PHOTO))
    for index in range(20):  # published while the detector cannot run: faster than it processes
        recorder.image_publisher.publish(image_msg(frame, header(10.0 + index)))
    assert spin_until(executor, lambda: recorder.received["faces"], 30.0)
    spin_for(executor, 2.0)
    assert recorder.stamps("faces") == [(29, 0)]


def test_live_video_keeps_face_ids_and_smooths_labels(executor):
    """The stream configuration of params.yaml (blazeface_stream, tracking, smoothing) on a real video: the face
    is found from the first frame on."""
    from emotion_ros.apps.samples import sample_video

    recorder = Recorder()
    live = [Parameter("detector", value="blazeface_stream"), Parameter("track_faces", value=True)]
    smoothing = [Parameter("smoothing_time_constant", value=0.5)]
    start(executor, recorder, FaceDetectionNode(parameter_overrides=live),
          EmotionClassifierNode(parameter_overrides=smoothing))
    assert spin_until(executor, lambda: recorder.image_publisher.get_subscription_count() >= 3, 10.0)
    capture = cv2.VideoCapture(str(sample_video()))
    frames = 0
    while frames < 30:
        ok, frame = capture.read()
        assert ok
        recorder.image_publisher.publish(image_msg(frame, header(100.0 + frames / 30)))
        frames += 1
        count = len(recorder.received["emotions"])
        spin_until(executor, lambda: len(recorder.received["emotions"]) > count, timeout=5.0)
    arrays = recorder.received["emotions"]
    assert len(arrays) == 30  # one per frame
    assert all(len(array.emotions) == 1 for array in arrays)
    assert {emotion.face_id for array in arrays for emotion in array.emotions} == {"face_1"}
    labels = [array.emotions[0].label for array in arrays]
    assert sum(a != b for a, b in zip(labels, labels[1:])) <= 2


@pytest.mark.parametrize("params_files, detector", [([], "blazeface_stream"), (["photos.yaml"], "blazeface")])
def test_nodes_do_not_import_tensorflow(params_files, detector):
    """The live and the photo configurations start in a second or two: no TensorFlow import on their path."""
    import subprocess
    import sys

    script = (
        "import sys, cv2, rclpy\n"
        "from emotion_ros.apps.samples import sample_photos\n"
        "from emotion_ros.nodes.bringup import NODE_CLASSES, ros_arguments\n"
        "from emotion_ros.paths import config_path\n"
        f"rclpy.init(args=ros_arguments([config_path(name) for name in {params_files!r}]))\n"
        "nodes = [node_class() for node_class in NODE_CLASSES]\n"
        "found = nodes[1].detector(cv2.imread(str(sample_photos()[2])))  # a posed face\n"
        "print(nodes[1].params.detector, len(found), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == [detector, "1", "False", "False"]


def test_stamp_gaps_count_the_missing_images():
    from emotion_ros.nodes.common import StampGapCounter

    gaps = StampGapCounter()
    period = 1 / 15
    # 15 fps after one odd short gap at the start; then 2 images missing, later 3
    stamps = [0.0, 0.01] + [0.01 + period * n for n in (1, 2, 3, 4, 5, 6, 9, 10, 11, 15, 16)]
    missed = [gaps.update(stamp) for stamp in stamps]
    assert missed == [0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 3, 0]
    assert gaps.missing == 5
    assert gaps.update(0.5) == 0  # a stamp going back (a looping file) is not a gap


def test_camera_size_frames_cross_processes_without_loss(executor, tmp_path):
    """camera_node in its own process sends 640x480 frames at 15 Hz to a best-effort subscriber (the face
    detector's QoS) in this one: with the shipped DDS profile none is lost (without it, 0 of 60 arrived)."""
    import os
    import subprocess
    import sys

    from emotion_ros.nodes.common import image_qos

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    photo = cv2.resize(cv2.imread(str(POSED_SURPRISE)), (640, 480))
    for index in range(45):
        writer.write(cv2.flip(photo, 1) if index % 2 else photo)
    writer.release()
    received = []
    listener = Node("frame_counter")
    listener.create_subscription(Image, "image_raw", received.append, image_qos(reliable=False))
    start(executor, listener)
    camera = subprocess.Popen(
        [sys.executable, "-m", "emotion_ros.nodes.camera_node", "--ros-args", "-p", f"source:={video}",
         "-p", "fps:=15.0", "-p", "loop:=false"],
        env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        spin_until(executor, lambda: len(received) == 45, timeout=30.0)
        spin_for(executor, 0.5)
    finally:
        camera.terminate()
        output = camera.communicate(timeout=10)[0]
    assert len(received) == 45, output
    assert (received[0].width, received[0].height) == (640, 480)


def test_renamed_nodes_find_their_defaults_and_two_instances_run(executor):
    first = FaceDetectionNode(cli_args=["--ros-args", "-r", "__node:=left_detector"])
    second = FaceDetectionNode(cli_args=["--ros-args", "-r", "__node:=right_detector"])
    start(executor, first, second)
    assert (first.get_name(), second.get_name()) == ("left_detector", "right_detector")
    assert first.params.detector == second.params.detector
    assert first.params.max_faces == 20


def test_parameters_are_checked_when_set_and_applied_live(executor):
    from emotion_ros.nodes.social_response_node import SocialResponseNode
    from emotion_ros.social.prompts import load_prompts

    detector = FaceDetectionNode()
    social = SocialResponseNode()
    start(executor, detector, social)

    refused = detector.set_parameters([Parameter("max_faces", value=0)])[0]
    assert not refused.successful and "max_faces out of range" in refused.reason
    assert detector.params.max_faces == 20
    assert detector.set_parameters([Parameter("max_faces", value=5)])[0].successful
    assert detector.params.max_faces == 5
    read_only = detector.set_parameters([Parameter("detector", value="mtcnn")])[0]
    assert not read_only.successful and "read-only" in read_only.reason
    assert detector.set_parameters([Parameter("min_face_size", value=60)])[0].successful
    assert detector.detector.min_face_size == 60  # the running detector uses it from the next frame
    assert detector.detector.name == "blazeface" and detector.detector.min_confidence == 0.6
    assert detector.set_parameters([Parameter("min_confidence", value=0.8)])[0].successful
    assert detector.detector.min_confidence == 0.8

    classifier = EmotionClassifierNode()
    start(executor, classifier)
    assert classifier.smoother is None  # photos.yaml, which this module runs with, does not smooth
    assert classifier.set_parameters([Parameter("smoothing_time_constant", value=0.5)])[0].successful
    assert classifier.smoother.time_constant == 0.5
    assert classifier.set_parameters([Parameter("smoothing_time_constant", value=0.0)])[0].successful
    assert classifier.smoother is None
    assert classifier.set_parameters([Parameter("flip_tta", value=True)])[0].successful
    assert classifier.classifier.flip_tta
    assert classifier.classifier.zoom_tta  # photos.yaml's
    assert classifier.set_parameters([Parameter("zoom_tta", value=False)])[0].successful
    assert not classifier.classifier.zoom_tta
    assert classifier.classifier.model_paths == ENSEMBLE_MODEL_PATHS  # photos.yaml's ensemble
    assert classifier.classifier.class_balance == 0.0
    refused = classifier.set_parameters([Parameter("class_balance", value=1.5)])[0]
    assert not refused.successful and "class_balance out of range" in refused.reason
    assert classifier.set_parameters([Parameter("class_balance", value=0.5)])[0].successful
    assert classifier.classifier.class_balance == 0.5
    assert classifier.set_parameters([Parameter("ensemble", value=False)])[0].successful
    assert classifier.classifier.model_paths == (MODEL_PATH,)  # the stream's one model, the views kept
    assert classifier.classifier.flip_tta and not classifier.classifier.zoom_tta
    assert classifier.classifier.class_balance == 0.5
    assert classifier.health.details["model"] == MODEL_PATH.name
    assert classifier.label_names["angry"] == "angry"
    assert not classifier.set_parameters([Parameter("label_language", value="de")])[0].successful
    assert classifier.set_parameters([Parameter("label_language", value="fr")])[0].successful
    assert classifier.label_names["angry"] == "colère"  # the words drawn on emotions/image from now on

    assert social.set_parameters([Parameter("language", value="fr")])[0].successful
    assert social.policy.prompts.language == "fr"
    recorder = Recorder()
    start(executor, recorder)
    happy = Emotion(face_id="face_0", roi=RegionOfInterest(x_offset=10, y_offset=10, width=80, height=80),
                    label="happy", confidence=0.9, scores=[0.02, 0.01, 0.02, 0.9, 0.02, 0.01, 0.02])
    emotions = recorder.create_publisher(EmotionArray, "emotions", 10)
    assert spin_until(executor, lambda: emotions.get_subscription_count() >= 1, 10.0)
    emotions.publish(EmotionArray(header=header(500.0), classes=list(CLASSES), emotions=[happy]))
    assert spin_until(executor, lambda: recorder.received["question"], 10.0)  # photos.yaml: no dwell
    french = load_prompts("fr").questions["happy"]
    assert recorder.received["question"][-1].data in french  # the next question is French
    refused = social.set_parameters([Parameter("language", value="de")])[0]
    assert not refused.successful and "language must be one of en, fr" in refused.reason
    refused = social.set_parameters([Parameter("prompts_file", value="/no/such/prompts.yaml")])[0]
    assert not refused.successful and "/no/such/prompts.yaml" in refused.reason
    assert social.policy.prompts.language == "fr"
    assert social.set_parameters([Parameter("dwell_time", value=0.25)])[0].successful
    assert social.policy.dwell_time == 0.25
    refused = social.set_parameters([Parameter("idle_timeout", value=-1.0)])[0]
    assert not refused.successful and social.policy.idle_timeout == 3.0
    assert social.set_parameters([Parameter("dwell_time", value=2)])[0].successful  # an integer for seconds
    assert social.policy.dwell_time == 2.0 and social.get_parameter("dwell_time").value == 2.0
    for name, value in (("emoji_image_size", 1_000_000_000), ("dwell_time", float("inf"))):
        assert not social.set_parameters([Parameter(name, value=value)])[0].successful, name
    for value in (float("nan"), float("inf")):
        assert not classifier.set_parameters([Parameter("face_margin", value=value)])[0].successful
    assert classifier.params.face_margin == 0.0


def test_parameters_describe_their_ranges_and_take_numbers_for_text(executor):
    from emotion_ros.nodes.camera_node import CameraNode

    detector = FaceDetectionNode()
    (confidence, faces, name) = detector.describe_parameters(["min_confidence", "max_faces", "detector"])
    assert (confidence.floating_point_range[0].from_value, confidence.floating_point_range[0].to_value) == (0.0, 1.0)
    assert (faces.integer_range[0].from_value, faces.integer_range[0].to_value) == (1, 1000)
    assert not faces.read_only and name.read_only and not name.integer_range
    # a launch argument source:=0 arrives as the integer 0: the camera index, as the text "0" is
    camera = CameraNode(parameter_overrides=[Parameter("source", value=0), Parameter("fps", value=5)])
    try:
        assert camera.params.source == "0" and camera.params.fps == 5.0
    finally:
        camera.destroy_node()


def test_a_misspelt_parameter_is_named_in_a_warning(tmp_path):
    import os
    import subprocess
    import sys

    params = tmp_path / "mine.yaml"
    params.write_text("face_detection_node:\n  ros__parameters:\n    dettector: mtcnn\n")
    node = subprocess.Popen([sys.executable, "-m", "emotion_ros.nodes.face_detection_node", "--ros-args",
                             "--params-file", str(params)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    try:
        lines = []
        for line in node.stdout:
            lines.append(line)
            if "detecting faces with" in line:
                break
    finally:
        node.terminate()
        node.communicate(timeout=10)
    assert any("ignoring unknown parameter(s) dettector" in line for line in lines), lines


def test_bringup_reads_a_camera_drivers_own_topic(executor):
    """`emotion-ros bringup --image-topic`: the nodes of another process read the driver's topic, not image_raw."""
    import os
    import subprocess
    import sys
    import threading

    driver = Node("fake_camera_driver")  # a real publisher standing for a camera driver
    publisher = driver.create_publisher(Image, "/test_cam/color/image_raw", 10)
    start(executor, driver)
    bringup = subprocess.Popen(
        [sys.executable, "-m", "emotion_ros.apps.cli", "bringup", "--image-topic", "/test_cam/color/image_raw",
         "--params-file", str(config_path("photos.yaml")), "--max-seconds", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(bringup.stdout), daemon=True)
    reader.start()
    frame = cv2.resize(cv2.imread(str(POSED_SURPRISE)), (320, 240))
    try:
        assert spin_until(executor, lambda: publisher.get_subscription_count() >= 2, 60.0)
        for index in range(20):
            publisher.publish(image_msg(frame, header(200.0 + index)))
            if spin_until(executor, lambda: any("1 face(s)" in line for line in lines), timeout=1.0):
                break
    finally:
        bringup.terminate()
        bringup.wait(timeout=20)
        reader.join(timeout=5)
    assert any(line.startswith("image 1 (stamp 200.000, frame test_camera): 1 face(s)") for line in lines), lines


def test_compressed_images_flow_and_a_broken_jpeg_is_skipped(executor, tmp_path):
    """image_transport: compressed on every node: JPEG frames from camera_node, stamps kept; a broken JPEG
    from another publisher is logged and skipped, and the next frame is processed."""
    from sensor_msgs.msg import CompressedImage

    from emotion_ros.nodes.common import compressed_image_msg

    compressed = [Parameter("image_transport", value="compressed")]
    received = []
    listener = Node("compressed_listener")
    listener.create_subscription(CompressedImage, "image_raw/compressed", received.append, qos_profile_sensor_data)
    sender = listener.create_publisher(CompressedImage, "image_raw/compressed", 10)
    recorder = Recorder()
    start(executor, listener, recorder, FaceDetectionNode(parameter_overrides=compressed),
          EmotionClassifierNode(parameter_overrides=compressed))
    assert spin_until(executor, lambda: sender.get_subscription_count() >= 3, 10.0)
    frame = cv2.imread(str(POSED_SURPRISE))
    broken = compressed_image_msg(frame, header(300.0))
    broken.data = bytes(broken.data)[:200]  # a JPEG cut short
    bomb = compressed_image_msg(frame, header(300.5))
    bomb.data = jpeg_claiming(30000, 30000)
    thin = compressed_image_msg(np.full((1, 4000, 3), 90, np.uint8), header(300.7), "png")
    for bad in (broken, bomb, thin):
        sender.publish(bad)
        spin_for(executor, 0.5)
    sender.publish(compressed_image_msg(frame, header(301.0)))
    assert spin_until(executor, lambda: recorder.received["emotions"], 30.0)
    assert recorder.stamps("emotions") == [(301, 0)]
    assert len(recorder.received["emotions"][0].emotions) == 1

    (tmp_path / "face.jpg").write_bytes(POSED_SURPRISE.read_bytes())
    camera = CameraNode(parameter_overrides=[*compressed, Parameter("source", value=str(tmp_path)),
                                             Parameter("frame_id", value="jpeg_camera")])
    start(executor, camera)
    assert spin_until(executor, lambda: any(m.header.frame_id == "jpeg_camera" for m in received), 10.0)
    sent = next(m for m in received if m.header.frame_id == "jpeg_camera")
    assert sent.format == "bgr8; jpeg compressed bgr8"
    assert cv2.imdecode(np.frombuffer(bytes(sent.data), np.uint8), cv2.IMREAD_COLOR).shape == frame.shape
    assert spin_until(executor, lambda: (sent.header.stamp.sec, sent.header.stamp.nanosec) in
                      recorder.stamps("emotions"), 30.0)


def test_nodes_report_their_health_on_diagnostics(executor, monkeypatch):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    from emotion_ros.nodes.common import NodeHealth

    monkeypatch.setattr(NodeHealth, "NO_INPUT_WARNING", 1.0)
    statuses = []
    listener = Node("diagnostics_listener")
    listener.create_subscription(DiagnosticArray, "/diagnostics", lambda msg: statuses.extend(msg.status), 10)
    recorder = Recorder()
    detector = FaceDetectionNode(parameter_overrides=[Parameter("detector", value="haar")])
    camera = CameraNode(parameter_overrides=[Parameter("source", value="/dev/video97"),
                                             Parameter("retry_period", value=0.2)])
    start(executor, listener, recorder, detector, camera)

    def latest(node_name):
        mine = [status for status in statuses if status.hardware_id == node_name]
        return (mine[-1], {value.key: value.value for value in mine[-1].values}) if mine else (None, {})

    assert spin_until(executor, lambda: latest("face_detection_node")[0] is not None
                      and latest("face_detection_node")[0].level == DiagnosticStatus.STALE, 10.0)
    assert "no input for" in latest("face_detection_node")[0].message
    assert spin_until(executor, lambda: latest("camera_node")[0] is not None
                      and "cannot open camera /dev/video97" in latest("camera_node")[0].message, 10.0)
    assert latest("camera_node")[0].level == DiagnosticStatus.WARN

    frame = cv2.imread(str(POSED_SURPRISE))
    for index in range(6):
        recorder.image_publisher.publish(image_msg(frame, header(400.0 + index / 5)))
        spin_for(executor, 0.2)
    assert spin_until(executor, lambda: latest("face_detection_node")[0].level == DiagnosticStatus.OK
                      and int(latest("face_detection_node")[1]["outputs"]) >= 5, 5.0)  # reported once a second
    status, values = latest("face_detection_node")
    assert status.name == "emotion_ros: /face_detection_node" and status.message == "running"
    assert values["detector"] == "haar" and int(values["outputs"]) >= 5 and float(values["latency p50 (ms)"]) > 0

    # the detector dies: the classifier still gets images, and says that no face arrays come
    executor.remove_node(detector)
    detector.destroy_node()
    classifier = EmotionClassifierNode()
    start(executor, classifier)
    for index in range(20):
        recorder.image_publisher.publish(image_msg(frame, header(410.0 + index / 5)))
        spin_for(executor, 0.2)
    assert spin_until(executor, lambda: latest("emotion_classifier_node")[0] is not None
                      and "is face_detection_node running?" in latest("emotion_classifier_node")[0].message, 10.0)
    assert latest("emotion_classifier_node")[0].level == DiagnosticStatus.STALE


def test_the_example_subscriber_of_the_messages_doc_reads_real_emotion_arrays(executor, tmp_path):
    import os
    import re
    import signal
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "MESSAGES.md").read_text()
    example = tmp_path / "mood_listener.py"
    example.write_text(re.search(r"```python\n(.*?)```", doc, re.S).group(1))
    publisher_node = Node("test_emotions_publisher")
    start(executor, publisher_node)
    publisher = publisher_node.create_publisher(EmotionArray, "emotions", 10)
    others = publisher.get_subscription_count()  # nodes of earlier tests may still listen
    listener = subprocess.Popen([sys.executable, str(example)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)})
    try:
        scores = [0.05, 0.0, 0.05, 0.7, 0.1, 0.0, 0.1]
        emotion = Emotion(face_id="face_3", roi=RegionOfInterest(x_offset=100, y_offset=50, width=80, height=80),
                          label="happy", confidence=0.7, scores=scores)
        message = EmotionArray(header=header(7.0), classes=list(CLASSES), emotions=[emotion])
        assert spin_until(executor, lambda: publisher.get_subscription_count() > others, 30.0)
        publisher.publish(message)
        spin_for(executor, 1.0)
    finally:
        listener.send_signal(signal.SIGINT)
        out, err = listener.communicate(timeout=30)
    assert out.splitlines()[0] == "face_3 looks happy (70%, happy 70%) at x=140 in test_camera"
    assert listener.returncode == 0, err


def test_lifecycle_and_the_enable_service_pause_and_resume_detection(executor):
    """What a robot's lifecycle manager and a behaviour do, through the nodes' own services: configure loads
    the detector, only an active node takes images, deactivating keeps the detector, `~/enable` pauses."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from std_srvs.srv import SetBool

    recorder = Recorder()
    detector = FaceDetectionNode(parameter_overrides=[Parameter("detector", value="haar"),
                                                      Parameter("autostart", value=False)])
    manager = Node("lifecycle_manager")
    change = manager.create_client(ChangeState, "/face_detection_node/change_state")
    get_state = manager.create_client(GetState, "/face_detection_node/get_state")
    enable = manager.create_client(SetBool, "/face_detection_node/enable")
    start(executor, recorder, detector, manager)
    assert spin_until(executor, lambda: change.service_is_ready() and enable.service_is_ready(), 10.0)

    def call(client, request):
        future = client.call_async(request)
        assert spin_until(executor, future.done, 10.0)
        return future.result()

    def transition(transition_id):
        assert call(change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def state():
        return call(get_state, GetState.Request()).current_state.label

    frame, stamps = cv2.imread(str(GROUP_PHOTO)), iter(range(600, 700))

    def detected():
        """Whether a frame sent now gets its faces published."""
        sec = next(stamps)
        recorder.image_publisher.publish(image_msg(frame, header(sec)))
        return spin_until(executor, lambda: (sec, 0) in recorder.stamps("faces"), 3.0)

    assert state() == "unconfigured" and detector.detector is None and not detected()
    transition(Transition.TRANSITION_CONFIGURE)
    loaded = detector.detector
    assert state() == "inactive" and loaded is not None and not detected()
    transition(Transition.TRANSITION_ACTIVATE)
    assert state() == "active" and detected()
    transition(Transition.TRANSITION_DEACTIVATE)
    assert state() == "inactive" and not detected() and detector.detector is loaded  # kept, not reloaded
    transition(Transition.TRANSITION_ACTIVATE)
    assert detected()
    assert call(enable, SetBool.Request(data=False)).message == "face detection off"
    assert not detected() and not detected()
    call(enable, SetBool.Request(data=True))
    assert detected()  # the next frame


def test_the_classifier_is_a_lifecycle_node_that_keeps_its_model_when_deactivated(executor):
    classifier = EmotionClassifierNode(parameter_overrides=[Parameter("autostart", value=False)])
    start(executor, classifier)
    assert classifier.classifier is None and classifier.health.state == "unconfigured"
    assert classifier.trigger_configure() == classifier.trigger_activate() == TransitionCallbackReturn.SUCCESS
    model = classifier.classifier
    assert classifier.image_subscription is not None and classifier.health.state == ""
    assert classifier.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert classifier.image_subscription is None and classifier.classifier is model
    assert classifier.health.state == "inactive"


def test_auto_image_reliability_follows_the_publishers(executor):
    """`image_reliability: auto`: reliable while every publisher of the topic is, best effort as soon as one
    is not (a reliable subscription cannot hear it), reliable again when it has gone, kept while none is left."""
    from rclpy.qos import qos_profile_sensor_data

    from emotion_ros.nodes.common import ImageSubscription

    reader, drivers = Node("auto_reader"), Node("auto_drivers")
    start(executor, reader, drivers)
    received = []
    images = ImageSubscription(reader, "raw", "auto", received.append, details=(details := {}))
    assert not images.reliable and details["images"] == "/image_raw, best effort"  # no publisher yet
    reliable = drivers.create_publisher(Image, "image_raw", 10)
    assert spin_until(executor, lambda: images.reliable, 10.0)
    assert details["images"] == "/image_raw, reliably"
    best_effort = drivers.create_publisher(Image, "image_raw", qos_profile_sensor_data)
    assert spin_until(executor, lambda: not images.reliable, 10.0)
    frame = np.full((48, 64, 3), 90, np.uint8)
    best_effort.publish(image_msg(frame, header(3.0)))
    assert spin_until(executor, lambda: received, 10.0)  # the best-effort publisher is heard
    drivers.destroy_publisher(best_effort)
    assert spin_until(executor, lambda: images.reliable, 10.0)
    reliable.publish(image_msg(frame, header(4.0)))
    assert spin_until(executor, lambda: len(received) == 2, 10.0)
    drivers.destroy_publisher(reliable)  # the camera restarts: the subscription waits for it as it was
    spin_for(executor, 2.5)
    assert images.reliable
    images.destroy()
    assert "images" not in details


def _frames_to_a_detector_process(executor, reliability, frames=60):
    """FaceArrays that face_detection_node, in its own process with its shipped Fast DDS profile and
    `image_reliability: auto`, publishes for `frames` 640x480 frames at 30 fps sent by this process as a camera
    driver with Fast DDS's defaults (this test process loads no profile) and `reliability`."""
    import os
    import subprocess
    import sys
    import time

    from rclpy.qos import QoSProfile

    from emotion_ros.nodes.common import DDS_PROFILE_VARIABLES

    assert not any(os.environ.get(name) for name in DDS_PROFILE_VARIABLES)
    driver = Node("plain_camera_driver")
    publisher = driver.create_publisher(Image, "/plain_cam/image_raw", QoSProfile(depth=5, reliability=reliability))
    faces = []
    driver.create_subscription(FaceArray, "/plain_cam/faces", faces.append, 10)
    start(executor, driver)
    detector = subprocess.Popen(
        [sys.executable, "-m", "emotion_ros.nodes.face_detection_node", "--ros-args", "-r", "__ns:=/plain_cam"],
        env={**os.environ, "ROS_DOMAIN_ID": str(DOMAIN_ID)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)

    def subscribed_as_published():
        found = driver.get_subscriptions_info_by_topic("/plain_cam/image_raw")
        return found and all(info.qos_profile.reliability == reliability for info in found)

    frame = cv2.resize(cv2.imread(str(POSED_SURPRISE)), (640, 480))
    try:
        assert spin_until(executor, subscribed_as_published, 60.0)
        spin_for(executor, 1.0)  # matched on both sides
        for index in range(frames):
            started = time.monotonic()
            publisher.publish(image_msg(frame, header(500.0 + index / 30)))
            spin_until(executor, lambda: time.monotonic() - started >= 1 / 30, 1.0)
        spin_until(executor, lambda: len(faces) >= frames, 10.0)
    finally:
        detector.terminate()
        output = detector.communicate(timeout=10)[0]
    return faces, output


def test_a_reliable_camera_driver_without_a_profile_loses_no_frame_to_a_detector_process(executor):
    """docs/ROS.md's table, 640x480 at 30 fps: a driver with Fast DDS's defaults, publishing reliably."""
    from rclpy.qos import QoSReliabilityPolicy

    faces, output = _frames_to_a_detector_process(executor, QoSReliabilityPolicy.RELIABLE)
    assert len(faces) >= 57, output
    assert all(array.faces for array in faces), output  # the frames arrived whole: a face in each


@pytest.mark.skipif((socket_buffer_limit() or 0) < SOCKET_BUFFER_NEEDED, reason="best-effort camera-size frames "
                    "over UDP need the kernel to allow 4 MiB socket buffers (net.core.rmem_max; docs/ROS.md)")
def test_a_best_effort_camera_driver_without_a_profile_loses_no_frame_to_a_detector_process(executor):
    """docs/ROS.md's table, 640x480 at 30 fps: a driver with Fast DDS's defaults, publishing best effort."""
    from rclpy.qos import QoSReliabilityPolicy

    faces, output = _frames_to_a_detector_process(executor, QoSReliabilityPolicy.BEST_EFFORT)
    assert len(faces) >= 57, output
    assert all(array.faces for array in faces), output


def test_a_jpeg_camera_driver_without_a_profile_reaches_a_best_effort_subscription(monkeypatch):
    """docs/ROS.md's JPEG row, 640x480 at 30 fps: a driver process with Fast DDS's defaults publishing
    CompressedImages, a subscriber process with face_detection_node's QoS and shipped profile."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dds_table", ROOT / "tools" / "dds_table.py")
    dds_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dds_table)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))  # the two processes', this test process's domain
    received, _ = dds_table.count_frames(640, 480, 60, {}, True, False, compressed=True)
    assert received >= 57


def test_best_effort_images_warn_where_the_kernel_caps_socket_buffers_low(tmp_path, monkeypatch):
    from emotion_ros.nodes import common

    class Warnings(list):
        warning = list.append

    limit = tmp_path / "rmem_max"
    monkeypatch.setattr(common, "SOCKET_BUFFER_LIMIT", limit)
    limit.write_text("212992\n")  # Linux's usual limit
    assert common.warn_small_socket_buffers(warnings := Warnings())
    assert "net.core.rmem_max is 212992 bytes" in warnings[0] and "sysctl -w net.core.rmem_max=4194304" in warnings[0]
    limit.write_text("8388608\n")
    assert not common.warn_small_socket_buffers(warnings := Warnings()) and not warnings


def test_each_process_gets_the_fast_dds_profile_of_its_role_unless_one_is_chosen():
    """Image readers take UDP (any driver's frames reach them), publishers shared memory; a user's profile,
    in the process's environment or a launch context's, is left alone."""
    import xml.etree.ElementTree as ElementTree

    from emotion_ros.nodes.common import DDS_PROFILE_VARIABLES, shipped_dds_profile_environment

    def transports(reads_images):
        (path,) = shipped_dds_profile_environment(reads_images, environment={}).values()
        return [element.text for element in ElementTree.parse(path).iter("{http://www.eprosima.com}type")]

    assert transports(reads_images=True) == ["UDPv4"]
    assert transports(reads_images=False) == ["SHM", "UDPv4"]
    for name in DDS_PROFILE_VARIABLES:
        assert shipped_dds_profile_environment(True, environment={name: "/robot/fastdds.xml"}) == {}
