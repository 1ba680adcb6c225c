"""Scripted timelines for the social response policy: when the head changes its emoji and when it speaks.

Frames come every 0.25 s, a binary fraction, so every stamp in these timelines is exact.
"""

import pytest

from emotion_ros.classes import CLASSES
from emotion_ros.results import FaceEmotion
from emotion_ros.social.prompts import PromptTable, load_prompts
from emotion_ros.social.policy import SocialResponsePolicy

STEP = 0.25
IDLE = "🤖"


def make_table(questions_per_emotion=3):
    return PromptTable(
        language="en", idle_emoji=IDLE,
        emoji={name: f"<{name}>" for name in CLASSES},
        questions={name: tuple(f"{name} question {index}" for index in range(questions_per_emotion))
                   for name in CLASSES},
        names={name: name for name in CLASSES})


def face(label, face_id="a", size=100):
    return FaceEmotion(box=(10, 20, size, size), label=label, confidence=0.9,
                       scores={name: (0.9 if name == label else 0.1 / 6) for name in CLASSES},
                       face_id=face_id)


def frames(start, stop, faces):
    """One frame every STEP from `start` up to, not including, `stop`, each showing `faces`."""
    return [(start + index * STEP, faces) for index in range(round((stop - start) / STEP))]


def run(policy, timeline):
    return {stamp: policy.update(stamp, faces) for stamp, faces in timeline}


def emoji_changes(responses):
    return [(stamp, response.emoji) for stamp, response in responses.items() if response.emoji_changed]


def questions(responses):
    return [(stamp, response.question) for stamp, response in responses.items() if response.question]


def policy_with(table=None, **kwargs):
    return SocialResponsePolicy(table or make_table(), seed=1, **kwargs)


def test_idle_emoji_until_the_first_stable_emotion_and_emoji_shown_exactly_at_dwell():
    responses = run(policy_with(), frames(0.0, 1.0, []) + frames(1.0, 3.0, [face("happy")]))
    assert emoji_changes(responses) == [(0.0, IDLE), (2.0, "<happy>")]
    assert all(responses[stamp].emotion == "" for stamp in (0.0, 1.0, 1.75))
    assert responses[1.75].face_id == "a"  # followed before its emotion is shown
    assert responses[2.0].emotion == "happy"
    assert [stamp for stamp, _ in questions(responses)] == [2.0]
    assert questions(responses)[0][1] in make_table().questions["happy"]
    assert {response.language for response in responses.values()} == {"en"}


def test_zero_dwell_and_idle_timeout_follow_single_photos_at_once():
    policy = policy_with(dwell_time=0.0, idle_timeout=0.0, question_cooldown=0.0)
    response = policy.update(0.0, [face("surprise")])
    assert (response.emoji, response.emotion, response.emoji_changed) == ("<surprise>", "surprise", True)
    assert response.question in make_table().questions["surprise"]
    assert (policy.update(1.0, []).emoji, policy.update(2.0, [face("sad", "b")]).emoji) == (IDLE, "<sad>")


def test_short_flicker_of_another_label_keeps_the_emoji():
    timeline = (frames(0.0, 2.0, [face("happy")]) + frames(2.0, 2.75, [face("sad")])
                + frames(2.75, 4.0, [face("happy")]) + frames(4.0, 6.0, [face("sad")]))
    responses = run(policy_with(), timeline)
    assert emoji_changes(responses) == [(0.0, IDLE), (1.0, "<happy>"), (5.0, "<sad>")]


def test_cooldown_delays_the_question_for_a_new_emotion():
    timeline = frames(0.0, 3.0, [face("happy")]) + frames(3.0, 14.0, [face("sad")])
    responses = run(policy_with(question_cooldown=10.0), timeline)
    assert emoji_changes(responses)[1:] == [(1.0, "<happy>"), (4.0, "<sad>")]
    asked = questions(responses)
    assert [stamp for stamp, _ in asked] == [1.0, 11.0]
    assert asked[0][1] in make_table().questions["happy"]
    assert asked[1][1] in make_table().questions["sad"]


def test_same_face_keeping_the_same_emotion_is_asked_only_once():
    responses = run(policy_with(), frames(0.0, 40.0, [face("neutral")]))
    assert [stamp for stamp, _ in questions(responses)] == [1.0]


def test_emotion_back_to_the_last_asked_one_within_cooldown_is_not_asked_again():
    timeline = (frames(0.0, 3.0, [face("happy")]) + frames(3.0, 6.0, [face("sad")])
                + frames(6.0, 20.0, [face("happy")]))
    responses = run(policy_with(), timeline)
    assert emoji_changes(responses)[1:] == [(1.0, "<happy>"), (4.0, "<sad>"), (7.0, "<happy>")]
    assert [stamp for stamp, _ in questions(responses)] == [1.0]


def test_no_question_is_repeated_twice_in_a_row_over_a_long_run():
    table = load_prompts("en")
    cycle = ["happy", "sad", "happy", "angry", "neutral", "neutral", "surprise", "fear", "disgust"]
    timeline, start = [], 0.0
    for label in cycle * 12:
        timeline += frames(start, start + 12.0, [face(label)])
        start += 12.0
    responses = run(SocialResponsePolicy(table, seed=7), timeline)
    asked = questions(responses)
    # every emotion change is asked about, 1 s (the dwell) after it starts; a repeated label is not
    expected_stamps = [index * 12.0 + 1.0 for index, label in enumerate(cycle * 12)
                       if index == 0 or label != (cycle * 12)[index - 1]]
    assert [stamp for stamp, _ in asked] == expected_stamps
    for (_, previous), (_, current) in zip(asked, asked[1:]):
        assert previous != current
    for stamp, question in asked:
        assert question in table.questions[responses[stamp].emotion]
    assert len({question for _, question in asked}) > len(CLASSES)  # it varies, not one per emotion


def test_the_only_question_of_an_emotion_is_not_repeated_for_the_next_face():
    timeline = (frames(0.0, 3.0, [face("happy", "a")]) + frames(3.0, 15.0, [])
                + frames(15.0, 30.0, [face("happy", "b")]))
    responses = run(policy_with(make_table(questions_per_emotion=1), idle_timeout=20.0), timeline)
    assert questions(responses) == [(1.0, "happy question 0")]
    assert responses[29.75].face_id == "b"


def test_same_emotion_on_a_new_main_face_is_asked_after_cooldown_without_changing_the_emoji():
    timeline = frames(0.0, 3.0, [face("happy", "a")]) + frames(3.0, 15.0, [face("happy", "b")])
    responses = run(policy_with(), timeline)
    assert emoji_changes(responses) == [(0.0, IDLE), (1.0, "<happy>")]
    # "a" was last seen at 2.75, lost after 1 s: "b" is followed from 4.0 and its emotion shown at 5.0
    assert responses[3.75].face_id == "a" and responses[4.0].face_id == "b"
    assert [stamp for stamp, _ in questions(responses)] == [1.0, 11.0]


def test_idle_emoji_once_nobody_is_seen_for_idle_timeout_and_no_question_while_idle():
    timeline = (frames(0.0, 3.0, [face("happy")]) + frames(3.0, 4.25, [face("sad")])
                + frames(4.25, 20.0, []) + frames(20.0, 22.0, [face("sad")]))
    responses = run(policy_with(idle_timeout=3.0, question_cooldown=10.0), timeline)
    # last face at 4.0, idle at 7.0; the cooldown ending at 11.0 finds nobody to ask
    assert emoji_changes(responses) == [(0.0, IDLE), (1.0, "<happy>"), (4.0, "<sad>"), (7.0, IDLE),
                                        (21.0, "<sad>")]
    assert (responses[7.0].emotion, responses[7.0].face_id) == ("", "")
    assert responses[6.75].emoji == "<sad>"
    # back after idling, the same person with the same emotion is a new encounter
    assert [stamp for stamp, _ in questions(responses)] == [1.0, 21.0]


def test_largest_face_is_the_main_face_initially():
    faces = [face("sad", "small", size=40), face("happy", "large", size=120), face("fear", "mid", size=80)]
    responses = run(policy_with(dwell_time=0.0), [(0.0, faces)])
    assert (responses[0.0].face_id, responses[0.0].emotion) == ("large", "happy")


def test_engaged_face_is_kept_while_present_even_when_a_larger_one_arrives():
    engaged, newcomer = face("happy", "a", size=50), face("angry", "b", size=200)
    timeline = frames(0.0, 2.0, [engaged]) + frames(2.0, 5.0, [engaged, newcomer])
    responses = run(policy_with(), timeline)
    assert {responses[stamp].face_id for stamp in responses} == {"a"}
    assert emoji_changes(responses) == [(0.0, IDLE), (1.0, "<happy>")]


def test_without_following_the_largest_face_of_every_frame_is_the_main_face():
    first_photo = [face("happy", "face_0", size=50), face("sad", "face_1", size=200)]
    second_photo = [face("angry", "face_0", size=150), face("fear", "face_1", size=60)]
    responses = run(policy_with(dwell_time=0.0, follow_face=False), [(0.0, first_photo), (2.0, second_photo)])
    assert [(responses[stamp].face_id, responses[stamp].emotion) for stamp in (0.0, 2.0)] == [
        ("face_1", "sad"), ("face_0", "angry")]


def test_main_face_switches_to_the_largest_after_face_lost_timeout():
    followed, small, large = face("happy", "a", 100), face("fear", "b", 30), face("sad", "c", 60)
    timeline = (frames(0.0, 2.0, [followed, small, large]) + frames(2.0, 2.5, [small, large])
                + frames(2.5, 3.0, [followed, small, large]) + frames(3.0, 6.0, [small, large]))
    responses = run(policy_with(face_lost_timeout=1.0), timeline)
    # a half-second gap is bridged; "a" was last seen at 2.75, so "c" is followed from 3.75 + 0.25
    assert {responses[stamp].face_id for stamp in responses if stamp < 4.0} == {"a"}
    assert {responses[stamp].face_id for stamp in responses if stamp >= 4.0} == {"c"}
    assert emoji_changes(responses) == [(0.0, IDLE), (1.0, "<happy>"), (5.0, "<sad>")]


def test_stamp_going_backwards_resets_the_timeline():
    policy = policy_with()
    first_loop = run(policy, frames(0.0, 3.0, [face("happy")]))
    second_loop = run(policy, frames(0.0, 3.0, [face("happy")]))
    for responses in (first_loop, second_loop):
        assert emoji_changes(responses) == [(0.0, IDLE), (1.0, "<happy>")]
        assert [stamp for stamp, _ in questions(responses)] == [1.0]
    assert questions(first_loop)[0][1] != questions(second_loop)[0][1]


def test_same_seed_gives_the_same_questions():
    timeline = []
    for index, label in enumerate(["happy", "sad"] * 5):
        timeline += frames(index * 11.0, (index + 1) * 11.0, [face(label)])
    first = questions(run(SocialResponsePolicy(make_table(), seed=3), timeline))
    second = questions(run(SocialResponsePolicy(make_table(), seed=3), timeline))
    assert len(first) == 10 and first == second


def test_unknown_label_and_negative_duration_are_rejected():
    with pytest.raises(ValueError, match="'joy'"):
        policy_with().update(0.0, [face("joy")])
    with pytest.raises(ValueError, match="dwell_time"):
        policy_with(dwell_time=-1.0)
