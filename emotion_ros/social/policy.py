"""What a robot head shows and asks, decided from a stream of face emotions; no ROS here so it can be tested.

The policy is a pure function of (stamp, faces) steps plus a seeded random generator, so a recorded
timeline always gives the same emoji and questions.
"""

import random
from dataclasses import dataclass

from .prompts import PromptTable, load_prompts

# ROS stamps around 1.7e9 s carry about 2e-7 s of float error; without a tolerance an exact dwell could miss.
_STAMP_TOLERANCE = 1e-6


@dataclass
class SocialResponse:
    """The head's state after one step, plus what must be acted on now."""

    emoji: str  # the emoji shown now
    emotion: str  # the emotion the emoji stands for; "" while idle
    face_id: str  # the main face followed; "" when none
    emoji_changed: bool  # the emoji differs from the previous step's (always True on the first step)
    question: str | None  # a question to ask now, else None
    language: str


def _area(face):
    _, _, width, height = face.box
    return width * height


class SocialResponsePolicy:
    """Turns per-frame face emotions into a calm emoji and well-spaced questions.

    Main face: the engaged face is followed by `face_id` while present; when it is missing for longer
    than `face_lost_timeout` the largest face (box area) becomes the main face. With `follow_face=False`
    the largest face of every frame is the main face: unrelated photos number their faces anew, so the
    same id in two photos is not the same person. Faces without an id
    cannot be told apart, so the largest of them is taken each step.

    Emoji: the main face's label must stay the same for `dwell_time` before its emoji is shown, and the
    emoji changes only when another label has been stable as long, so one-frame misclassifications never
    flicker on the screen (`dwell_time=0` shows a single photo's emotion at once). Until the first
    stable emotion, and after no face at all has been seen for `idle_timeout`, the idle emoji is shown.

    Questions: one is asked when an emotion's emoji is shown for the main face, then none for
    `question_cooldown`. After the cooldown a new question comes only when the (face, emotion) pair shown
    differs from the pair of the last question, so a person who stays happy is not asked about it every
    ten seconds; after an idle spell a returning face counts as a new encounter. The question is drawn
    with a seeded generator among the emotion's questions, never the last question asked (if an emotion
    has no other question, the robot stays silent rather than repeat itself). Nothing is asked while idle.

    Stamps must not decrease; a stamp going backwards (a bag replayed in a loop) resets the policy.
    """

    def __init__(self, prompts="en", *, dwell_time=1.0, idle_timeout=3.0, face_lost_timeout=1.0,
                 question_cooldown=10.0, seed=0, idle_emoji=None, follow_face=True):
        durations = {"dwell_time": dwell_time, "idle_timeout": idle_timeout,
                     "face_lost_timeout": face_lost_timeout, "question_cooldown": question_cooldown}
        for name, value in durations.items():
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"{name} must be a duration >= 0 seconds, got {value!r}")
        self.prompts = prompts if isinstance(prompts, PromptTable) else load_prompts(prompts)
        self.idle_emoji = idle_emoji or self.prompts.idle_emoji
        self.dwell_time = float(dwell_time)
        self.idle_timeout = float(idle_timeout)
        self.face_lost_timeout = float(face_lost_timeout)
        self.question_cooldown = float(question_cooldown)
        self.follow_face = follow_face
        self._rng = random.Random(seed)
        self._last_question = None  # survives reset(): a looped bag must not repeat the question either
        self.reset()

    def reset(self):
        """Forget the timeline (faces, emoji, cooldown); keep the random generator and the last question."""
        self._last_stamp = None
        self._last_face_seen = None
        self._main_id = None
        self._main_last_seen = None
        self._candidate_label = None
        self._candidate_since = None
        self._shown_emotion = ""
        self._shown_face_id = ""
        self._reported_emoji = None
        self._asked_subject = None
        self._last_question_stamp = None

    def update(self, stamp, faces):
        """Advance to `stamp` (seconds) with the faces of that frame and say what to show and ask."""
        stamp = float(stamp)
        if self._last_stamp is not None and stamp < self._last_stamp:
            self.reset()
        self._last_stamp = stamp
        if faces:
            self._last_face_seen = stamp
        main = self._follow_main_face(stamp, faces)
        if main is not None:
            self._track_emotion(stamp, main)
        if not faces and self._is_idle(stamp):
            self._go_idle()
        question = self._next_question(stamp, main)
        emoji = self._current_emoji()
        emoji_changed = emoji != self._reported_emoji
        self._reported_emoji = emoji
        return SocialResponse(emoji=emoji, emotion=self._shown_emotion, face_id=self._main_id or "",
                              emoji_changed=emoji_changed, question=question, language=self.prompts.language)

    def dwell_progress(self, stamp):
        """(emotion, fraction of `dwell_time` it has held, 0 to 1) for the main face's emotion while it waits
        to be shown; None when it is the one shown, or nobody is followed."""
        if self._main_id is None or self._candidate_label in (None, self._shown_emotion) or not self.dwell_time:
            return None
        return self._candidate_label, min(1.0, (stamp - self._candidate_since) / self.dwell_time)

    def _follow_main_face(self, stamp, faces):
        """The main face of this frame, or None while the engaged face is briefly out of sight."""
        if self._main_id is not None and self.follow_face:
            same_face = [face for face in faces if face.face_id == self._main_id]
            if same_face:
                self._main_last_seen = stamp
                return max(same_face, key=_area)
            if stamp - self._main_last_seen <= self.face_lost_timeout + _STAMP_TOLERANCE:
                return None
        if not faces:
            self._main_id = None
            self._candidate_label = None
            return None
        main = max(faces, key=_area)
        if main.face_id != self._main_id:
            self._candidate_label = None  # a new person's emotion must dwell on its own
        self._main_id = main.face_id
        self._main_last_seen = stamp
        return main

    def _track_emotion(self, stamp, main):
        if main.label not in self.prompts.emoji:
            raise ValueError(f"face {main.face_id!r} has label {main.label!r}, "
                             f"not one of {', '.join(self.prompts.emoji)}")
        if main.label != self._candidate_label:
            self._candidate_label = main.label
            self._candidate_since = stamp
        if stamp - self._candidate_since >= self.dwell_time - _STAMP_TOLERANCE:
            self._shown_emotion = main.label
            self._shown_face_id = main.face_id

    def _is_idle(self, stamp):
        if self._last_face_seen is None:
            return True
        return stamp - self._last_face_seen >= self.idle_timeout - _STAMP_TOLERANCE

    def _go_idle(self):
        self._main_id = None
        self._candidate_label = None
        self._shown_emotion = ""
        self._shown_face_id = ""
        self._asked_subject = None

    def _next_question(self, stamp, main):
        if not self._shown_emotion or main is None or main.face_id != self._shown_face_id:
            return None  # nothing shown, or the person it was shown for is not the one in view
        subject = (self._shown_face_id, self._shown_emotion)
        if subject == self._asked_subject:
            return None
        if (self._last_question_stamp is not None
                and stamp - self._last_question_stamp < self.question_cooldown - _STAMP_TOLERANCE):
            return None
        choices = [text for text in self.prompts.questions[self._shown_emotion]
                   if text != self._last_question]
        if not choices:
            return None
        question = self._rng.choice(choices)
        self._last_question = question
        self._last_question_stamp = stamp
        self._asked_subject = subject
        return question

    def _current_emoji(self):
        return self.prompts.emoji[self._shown_emotion] if self._shown_emotion else self.idle_emoji
