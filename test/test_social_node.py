"""SocialResponseNode on a live ROS graph: scripted EmotionArray timelines in, emoji and questions out.

The stamps advance 0.1 s per message on a simulated timeline, whatever the wall clock does, and each
message is handled before the next one is sent, so the timeline is exact on a slow machine too.
"""

import time
from types import SimpleNamespace

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")

from builtin_interfaces.msg import Time  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSDurabilityPolicy, QoSProfile  # noqa: E402
from sensor_msgs.msg import Image, RegionOfInterest  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402

from conftest import DOMAIN_ID, spin_until  # noqa: E402

from emotion_ros.classes import CLASSES  # noqa: E402
from emotion_ros.vision.images import image_from_msg  # noqa: E402
from emotion_ros.msg import Emotion, EmotionArray, SocialResponse  # noqa: E402
from emotion_ros.social.prompts import load_prompts  # noqa: E402
from emotion_ros.nodes.social_response_node import SocialResponseNode  # noqa: E402

START_NS = 1_700_000_000 * 10**9
STEP_NS = 100_000_000  # 0.1 s per message
FRAME_ID = "head_camera"
PARAMETERS = {"dwell_time": 0.5, "question_cooldown": 2.0, "idle_timeout": 1.0, "face_lost_timeout": 0.3,
              "emoji_image_size": 96}
PROMPTS = load_prompts("en")
IDLE = PROMPTS.idle_emoji
# Deep enough for every output of a test: nothing is overwritten before the executor takes it.
RECORD_DEPTH = 100
RECORD_LATCHED_QOS = QoSProfile(depth=RECORD_DEPTH, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


@pytest.fixture(scope="module")
def ros():
    rclpy.init(domain_id=DOMAIN_ID)
    yield
    rclpy.try_shutdown()


class CountingSocialResponseNode(SocialResponseNode):
    """The real node, counting the messages it has handled so that the script can wait for each."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.handled = 0

    def on_emotions(self, msg):
        super().on_emotions(msg)
        self.handled += 1


class HeadRecorder(Node):
    """The test's side of the graph: sends scripted emotions, records what the head shows, says and logs."""

    def __init__(self):
        super().__init__("head_recorder")
        self.emotions_publisher = self.create_publisher(EmotionArray, "emotions", 10)
        self.emoji, self.images, self.questions, self.responses, self.logs = [], [], [], [], []
        self.create_subscription(String, "emoji", lambda msg: self.emoji.append(msg.data), RECORD_LATCHED_QOS)
        self.create_subscription(Image, "emoji/image", self.images.append, RECORD_LATCHED_QOS)
        self.create_subscription(String, "question", lambda msg: self.questions.append(msg.data),
                                 RECORD_DEPTH)
        self.create_subscription(SocialResponse, "social_response", self.responses.append, RECORD_DEPTH)
        self.create_subscription(Log, "/rosout", self.logs.append, RECORD_LATCHED_QOS)


@pytest.fixture
def head(ros):
    social = CountingSocialResponseNode(
        parameter_overrides=[Parameter(name, value=value) for name, value in PARAMETERS.items()])
    recorder = HeadRecorder()
    executor = SingleThreadedExecutor()
    executor.add_node(social)
    executor.add_node(recorder)
    outputs = (social.emoji_publisher, social.emoji_image_publisher, social.question_publisher,
               social.response_publisher, recorder.emotions_publisher)
    assert spin_until(executor, lambda: all(p.get_subscription_count() > 0 for p in outputs)), "no discovery"
    yield SimpleNamespace(social=social, recorder=recorder, executor=executor)
    executor.shutdown()
    social.destroy_node()
    recorder.destroy_node()


def face(label, face_id="a", size=100):
    return Emotion(face_id=face_id, roi=RegionOfInterest(x_offset=10, y_offset=20, width=size, height=size),
                   label=label, confidence=0.9,
                   scores=[0.9 if name == label else 0.1 / 6 for name in CLASSES])


def steps(first, stop, faces):
    """Messages `first` up to, not including, `stop`, each showing `faces`."""
    return [(step, faces) for step in range(first, stop)]


def stamp_ns(step):
    return START_NS + step * STEP_NS


def step_of(header):
    return (header.stamp.sec * 10**9 + header.stamp.nanosec - START_NS) / STEP_NS


def play_script(head, script):
    """Publishes each (step, faces) and waits until the node has handled it before the next one."""
    for step, faces in script:
        stamp = Time(sec=stamp_ns(step) // 10**9, nanosec=stamp_ns(step) % 10**9)
        head.recorder.emotions_publisher.publish(EmotionArray(
            header=Header(stamp=stamp, frame_id=FRAME_ID), classes=list(CLASSES), emotions=faces))
        handled = head.social.handled + 1
        assert spin_until(head.executor, lambda: head.social.handled >= handled), f"step {step} not handled"


def wait_for_outputs(head, responses, emoji_changes):
    recorder = head.recorder
    assert spin_until(head.executor, lambda: len(recorder.responses) >= responses
                      and len(recorder.emoji) >= emoji_changes and len(recorder.images) >= emoji_changes)
    end = time.monotonic() + 0.3  # a moment more, only so that an unexpected extra output would show up
    while time.monotonic() < end:
        head.executor.spin_once(timeout_sec=0.05)


def timeline(recorder):
    """(step, emoji, emotion, face_id, question) of every SocialResponse, in order."""
    for response in recorder.responses:
        assert (response.header.frame_id, response.language) == (FRAME_ID, "en")
    return [(step_of(r.header), r.emoji, r.emotion, r.face_id, r.question) for r in recorder.responses]


def assert_questions(recorder, expected_emotions):
    """Each question belongs to its emotion, none repeats the one just before, and `question` agrees."""
    asked = [(emotion, question) for _, _, emotion, _, question in timeline(recorder) if question]
    assert [emotion for emotion, _ in asked] == expected_emotions
    assert all(question in PROMPTS.questions[emotion] for emotion, question in asked)
    questions = [question for _, question in asked]
    assert all(before != after for before, after in zip(questions, questions[1:]))
    assert recorder.questions == questions


def without_questions(events):
    return [event[:4] for event in events]


def test_dwell_cooldown_and_idle_timeline(head):
    happy, sad = PROMPTS.emoji["happy"], PROMPTS.emoji["sad"]
    play_script(head, steps(0, 10, [face("happy")]) + steps(10, 30, [face("sad")])
                + steps(30, 50, [face("happy")]) + steps(50, 62, []))
    wait_for_outputs(head, responses=7, emoji_changes=5)

    recorder = head.recorder
    events = timeline(recorder)
    # emoji after 0.5 s of a stable emotion; questions 2 s apart; idle 1 s after the face left (step 49)
    assert without_questions(events) == [
        (0, IDLE, "", "a"), (5, happy, "happy", "a"), (15, sad, "sad", "a"), (25, sad, "sad", "a"),
        (35, happy, "happy", "a"), (45, happy, "happy", "a"), (59, IDLE, "", "")]
    assert [step for step, *_, question in events if question] == [5, 25, 45]
    assert_questions(recorder, ["happy", "sad", "happy"])
    assert recorder.emoji == [IDLE, happy, sad, happy, IDLE]

    size = PARAMETERS["emoji_image_size"]
    assert [step_of(image.header) for image in recorder.images] == [0, 5, 15, 35, 59]
    pictures = []
    for image in recorder.images:
        assert (image.encoding, image.height, image.width, image.step) == ("bgr8", size, size, 3 * size)
        assert image.header.frame_id == FRAME_ID
        picture = image_from_msg(image)
        assert np.count_nonzero(picture.max(axis=2)) > size * size // 10  # an emoji, not a blank screen
        pictures.append(picture)
    assert not np.array_equal(pictures[0], pictures[1])  # the idle emoji is not the happy one
    assert np.array_equal(pictures[0], pictures[4])


def test_main_face_switches_when_the_followed_face_leaves(head):
    happy, sad = PROMPTS.emoji["happy"], PROMPTS.emoji["sad"]
    big_happy, small_sad = face("happy", "a", size=100), face("sad", "b", size=60)
    play_script(head, steps(0, 10, [small_sad, big_happy]) + steps(10, 30, [small_sad]))
    wait_for_outputs(head, responses=4, emoji_changes=3)

    # the largest face is followed; 0.3 s after it left (step 9 -> 13) the other face is, and its
    # emotion dwells 0.5 s of its own before it shows; its question waits for the cooldown
    assert without_questions(timeline(head.recorder)) == [
        (0, IDLE, "", "a"), (5, happy, "happy", "a"), (18, sad, "sad", "b"), (25, sad, "sad", "b")]
    assert_questions(head.recorder, ["happy", "sad"])


def test_malformed_emotions_are_logged_and_skipped(head):
    happy = PROMPTS.emoji["happy"]
    play_script(head, [(0, [face("bored")])] + steps(1, 6, [face("happy")]) + [(6, [face("bored")])]
                + [(7, [face("happy")])])
    wait_for_outputs(head, responses=2, emoji_changes=2)

    assert without_questions(timeline(head.recorder)) == [(1, IDLE, "", "a"), (7, happy, "happy", "a")]
    assert_questions(head.recorder, ["happy"])
    assert spin_until(head.executor, lambda: len(skip_warnings(head.recorder)) >= 2)
    assert len(skip_warnings(head.recorder)) == 2


def skip_warnings(recorder):
    return [log for log in recorder.logs
            if log.name == "social_response_node" and log.level == Log.WARN and "'bored'" in log.msg]


def test_a_prompt_table_with_emoji_the_font_cannot_draw_is_refused_at_start_and_live(head, tmp_path):
    import yaml

    document = {"language": "en", "idle_emoji": "ZZ",
                "emotions": {name: {"emoji": "A" if name == "happy" else "🙂", "questions": [f"Are you {name}?"]}
                             for name in CLASSES}}
    table = tmp_path / "letters.yaml"
    table.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="letters.yaml: the font has no glyph for 'ZZ'"):
        SocialResponseNode(parameter_overrides=[Parameter("prompts_file", value=str(table))])
    refused = head.social.set_parameters([Parameter("prompts_file", value=str(table))])[0]
    assert not refused.successful and "no glyph" in refused.reason
    assert head.social.policy.prompts.language == "en"
    assert not head.social.set_parameters([Parameter("emoji_image_size", value=1_000_000_000)])[0].successful
    play_script(head, steps(0, 3, [face("happy")]))  # the node still answers
    assert spin_until(head.executor, lambda: head.recorder.emoji)


def test_speech_node_says_the_heads_questions_into_wav_files(ros, tmp_path):
    import wave

    from emotion_ros.nodes.speech_node import SpeechNode

    speech = SpeechNode(parameter_overrides=[Parameter("wav_dir", value=str(tmp_path)),
                                             Parameter("language", value="fr")])
    sender = Node("question_sender")
    said = []
    questions = sender.create_publisher(String, "question", 10)
    sender.create_subscription(String, "speech", lambda msg: said.append(msg.data), 10)
    executor = SingleThreadedExecutor()
    for node in (speech, sender):
        executor.add_node(node)
    try:
        assert spin_until(executor, lambda: questions.get_subscription_count() > 0)
        question = load_prompts("fr").questions["happy"][0]
        questions.publish(String(data=question))
        assert spin_until(executor, lambda: said == [question] and not speech.voice.busy)
    finally:
        executor.shutdown()
        speech.destroy_node()
        sender.destroy_node()
    (wav,) = tmp_path.iterdir()
    assert wav.name == "question_0001_fr.wav"
    with wave.open(str(wav)) as audio:
        assert audio.getnframes() / audio.getframerate() > 1.0


def test_a_crowd_of_emotions_is_cut_to_the_largest_faces_and_the_head_follows_the_largest(head):
    crowd = [face("sad", face_id=f"c{index}", size=20) for index in range(3000)] + [face("happy", "big", 200)]
    play_script(head, steps(0, 8, crowd))
    wait_for_outputs(head, responses=2, emoji_changes=2)
    assert [(emoji, emotion, face_id) for _, emoji, emotion, face_id, _ in timeline(head.recorder)][:2] == [
        (IDLE, "", "big"), (PROMPTS.emoji["happy"], "happy", "big")]


def test_the_head_goes_idle_when_emotions_stop_and_diagnostics_say_so(head):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    statuses = []
    head.recorder.create_subscription(DiagnosticArray, "/diagnostics", lambda msg: statuses.extend(msg.status), 10)
    play_script(head, steps(0, 10, [face("happy")]))  # the classifier stops after this, as if it had died
    happy = PROMPTS.emoji["happy"]
    assert spin_until(head.executor, lambda: head.recorder.emoji[-1:] == [happy])
    assert spin_until(head.executor, lambda: head.recorder.emoji[-1] == IDLE, 10.0)  # idle_timeout 1 s
    assert spin_until(head.executor, lambda: any(
        status.name.endswith("social_response_node") and status.level == DiagnosticStatus.STALE
        and "no input" in status.message for status in statuses), 15.0)
