"""What a robot head shows and asks, decided from a stream of face emotions; no ROS here so it can be tested.

The policy is a pure function of (stamp, faces) steps plus a seeded random generator, so a recorded
timeline always gives the same emoji and questions.
"""

import os
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from .classes import CLASSES
from .paths import config_path

DEFAULT_IDLE_EMOJI = "🤖"
"""A robot face for "nobody there": unlike 😶 or 🙂 it cannot be mistaken for one of the seven emotions."""

SHIPPED_LANGUAGES = ("en", "fr")
MIN_SHIPPED_QUESTIONS = 3
MIN_USER_QUESTIONS = 1

_TOP_LEVEL_KEYS = ("language", "idle_emoji", "emotions")
_EMOTION_KEYS = ("emoji", "questions")

# ROS stamps around 1.7e9 s carry about 2e-7 s of float error; without a tolerance an exact dwell could miss.
_STAMP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PromptTable:
    """The emoji and questions of one language, checked once when loaded."""

    language: str
    idle_emoji: str
    emoji: dict  # emotion -> emoji string
    questions: dict  # emotion -> tuple of questions
    source: str = ""  # the file it came from, for error messages


def _kind(value):
    return type(value).__name__


def _check_text(source, where, value, what):
    if not isinstance(value, str):
        raise ValueError(f"{source}: {where} must be a string ({what}), got {_kind(value)} {value!r}")
    if not value.strip():
        raise ValueError(f"{source}: {where} is empty, expected {what}")
    return value.strip()


def _check_emoji(source, where, value):
    emoji = _check_text(source, where, value, "one emoji")
    if any(char.isspace() for char in emoji):
        raise ValueError(f"{source}: {where} must be one emoji without spaces, got {emoji!r}")
    return emoji


def _parse_emotion(source, emotion, entry, min_questions):
    where = f"emotions.{emotion}"
    if not isinstance(entry, dict):
        raise ValueError(f"{source}: {where} must be a mapping with keys 'emoji' and 'questions', "
                         f"got {_kind(entry)}")
    unknown = sorted(str(key) for key in entry if key not in _EMOTION_KEYS)
    if unknown:
        raise ValueError(f"{source}: {where} has unknown key(s) {', '.join(unknown)} "
                         f"(expected 'emoji' and 'questions')")
    for key in _EMOTION_KEYS:
        if key not in entry:
            raise ValueError(f"{source}: {where} is missing '{key}'")
    emoji = _check_emoji(source, f"{where}.emoji", entry["emoji"])
    questions = entry["questions"]
    if not isinstance(questions, list):
        raise ValueError(f"{source}: {where}.questions must be a list of strings, got {_kind(questions)}")
    if len(questions) < min_questions:
        raise ValueError(f"{source}: {where}.questions has {len(questions)} question(s), "
                         f"at least {min_questions} needed")
    checked = []
    for index, question in enumerate(questions):
        text = _check_text(source, f"{where}.questions[{index}]", question, "a question")
        if text in checked:
            raise ValueError(f"{source}: {where}.questions[{index}] repeats an earlier question: {text!r}")
        checked.append(text)
    return emoji, tuple(checked)


def _parse_table(source, document, min_questions):
    if document is None:
        raise ValueError(f"{source}: the file is empty")
    if not isinstance(document, dict):
        raise ValueError(f"{source}: the top level must be a mapping with keys 'language' and 'emotions', "
                         f"got {_kind(document)}")
    unknown = sorted(str(key) for key in document if key not in _TOP_LEVEL_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown top-level key(s) {', '.join(unknown)} "
                         f"(expected {', '.join(_TOP_LEVEL_KEYS)})")
    if "language" not in document:
        raise ValueError(f"{source}: missing 'language' key")
    language = _check_text(source, "language", document["language"], "a language code such as en")
    idle_emoji = _check_emoji(source, "idle_emoji", document.get("idle_emoji", DEFAULT_IDLE_EMOJI))
    if "emotions" not in document:
        raise ValueError(f"{source}: missing 'emotions' key")
    emotions = document["emotions"]
    if not isinstance(emotions, dict):
        raise ValueError(f"{source}: 'emotions' must be a mapping from emotion name to emoji and questions, "
                         f"got {_kind(emotions)}")
    unknown = sorted(str(name) for name in emotions if name not in CLASSES)
    if unknown:
        raise ValueError(f"{source}: unknown emotion(s) {', '.join(unknown)} under 'emotions' "
                         f"(expected {', '.join(CLASSES)})")
    missing = [name for name in CLASSES if name not in emotions]
    if missing:
        raise ValueError(f"{source}: emotion(s) missing under 'emotions': {', '.join(missing)}")
    emoji, questions = {}, {}
    for name in CLASSES:
        emoji[name], questions[name] = _parse_emotion(source, name, emotions[name], min_questions)
    return PromptTable(language, idle_emoji, emoji, questions, str(source))


def load_prompts(path_or_language, min_questions=None):
    """Load a prompt table: "en" or "fr" picks a shipped file, anything else is the path of a user file.

    Shipped files must hold at least MIN_SHIPPED_QUESTIONS questions per emotion, user files at least
    MIN_USER_QUESTIONS, unless `min_questions` says otherwise. Every problem in the file raises a
    ValueError naming the file and what is wrong, so a typo is found at start-up, not mid-conversation.
    """
    shipped = isinstance(path_or_language, str) and path_or_language in SHIPPED_LANGUAGES
    if shipped:
        path = config_path(f"prompts_{path_or_language}.yaml")
    else:
        path = Path(os.fspath(path_or_language)).expanduser()
    if min_questions is None:
        min_questions = MIN_SHIPPED_QUESTIONS if shipped else MIN_USER_QUESTIONS
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error})") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValueError(f"{path}: YAML syntax error{place}: {problem}") from error
    return _parse_table(path, document, min_questions)


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
