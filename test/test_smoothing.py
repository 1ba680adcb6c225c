"""EmotionSmoother: a noisy face changes its published label once, at the same time at any fps."""

import numpy as np
import pytest

from emotion_ros.classes import CLASSES
from emotion_ros.vision.smoothing import EmotionSmoother

NEUTRAL, SAD, HAPPY, SURPRISE = (CLASSES.index(name) for name in ("neutral", "sad", "happy", "surprise"))
SWITCH_AT = 2.0  # seconds: the face turns from neutral to happy


def noisy_scores(stamp, rng):
    """Neutral then happy, each with a close second: a frame-by-frame argmax flickers."""
    scores = np.full(len(CLASSES), 0.02)
    if stamp < SWITCH_AT:
        scores[NEUTRAL], scores[SAD] = 0.42, 0.36
    else:
        scores[HAPPY], scores[SURPRISE] = 0.45, 0.33
    scores = np.clip(scores + rng.normal(0, 0.08, len(CLASSES)), 0.001, None)
    return scores / scores.sum()


def run(fps, smoother, seconds=4.0, seed=0):
    """(raw argmax, published label, smoothed scores) of each frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for stamp in np.arange(0, seconds, 1 / fps):
        raw = noisy_scores(stamp, rng)
        label, smoothed = smoother.update("face_1", raw, stamp)
        frames.append((int(np.argmax(raw)), label, smoothed))
    return frames


def changes(labels):
    return sum(a != b for a, b in zip(labels, labels[1:]))


def switch_time(frames, fps):
    labels = [label for _, label, _ in frames]
    return next(index for index, label in enumerate(labels) if label == HAPPY) / fps


def test_noisy_scores_change_the_label_once():
    frames = run(30, EmotionSmoother(time_constant=0.5, switch_margin=0.1))
    raw = [argmax for argmax, _, _ in frames]
    labels = [label for _, label, _ in frames]
    assert changes(raw) > 15  # the classifier alone flickers
    assert changes(labels) == 1
    assert labels[0] == NEUTRAL and labels[-1] == HAPPY
    assert SWITCH_AT < switch_time(frames, 30) < SWITCH_AT + 1.0
    for _, _, smoothed in frames:
        assert smoothed.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("fps", [10, 60])
def test_the_label_changes_at_the_same_time_at_any_fps(fps):
    reference = switch_time(run(30, EmotionSmoother()), 30)
    frames = run(fps, EmotionSmoother())
    assert changes([label for _, label, _ in frames]) == 1
    assert switch_time(frames, fps) == pytest.approx(reference, abs=0.25)


def test_without_smoothing_the_label_follows_every_frame():
    frames = run(30, EmotionSmoother(time_constant=0, switch_margin=0))
    assert all(argmax == label for argmax, label, _ in frames)


def test_hysteresis_keeps_the_label_until_another_class_leads_by_the_margin():
    smoother = EmotionSmoother(time_constant=0, switch_margin=0.1)
    neutral = np.eye(len(CLASSES))[NEUTRAL]
    assert smoother.update("face_1", neutral, 0.0)[0] == NEUTRAL
    close = np.full(len(CLASSES), 0.0)
    close[NEUTRAL], close[SAD] = 0.47, 0.53
    assert smoother.update("face_1", close, 0.1)[0] == NEUTRAL  # sad leads by 0.06 only
    close[NEUTRAL], close[SAD] = 0.4, 0.6
    assert smoother.update("face_1", close, 0.2)[0] == SAD


def test_faces_are_smoothed_separately_and_forgotten_when_their_track_ends():
    smoother = EmotionSmoother()
    happy, sad = np.eye(len(CLASSES))[HAPPY], np.eye(len(CLASSES))[SAD]
    assert smoother.update("face_1", happy, 0.0)[0] == HAPPY
    assert smoother.update("face_2", sad, 0.0)[0] == SAD
    assert smoother.update("face_1", happy, 0.1)[1][HAPPY] == pytest.approx(1.0)
    smoother.retain({"face_2"})
    assert len(smoother) == 1
    assert smoother.update("face_1", sad, 0.2)[0] == SAD  # a fresh start, not happy's history


def test_a_replayed_stream_restarts_from_its_first_frame():
    smoother = EmotionSmoother()
    smoother.update("face_1", np.eye(len(CLASSES))[HAPPY], 10.0)
    label, smoothed = smoother.update("face_1", np.eye(len(CLASSES))[SAD], 0.0)  # the clock went back
    assert label == SAD and smoothed[SAD] == pytest.approx(1.0)


def test_negative_parameters_are_refused():
    with pytest.raises(ValueError):
        EmotionSmoother(time_constant=-1)


def test_ever_new_face_ids_at_one_stamp_keep_the_memory_bounded():
    smoother = EmotionSmoother(0.5, 0.1, max_faces=50)
    scores = np.full(7, 1 / 7)
    for number in range(10_000):  # a hostile publisher: one fixed stamp, a new face id every time
        smoother.update(f"face_{number}", scores, 100.0)
    assert len(smoother) == 50
    smoother.update("face_9999", scores, 100.0)  # the newest faces are the ones kept
    smoother.update("fresh", scores, 100.0)
    assert len(smoother) == 50
