"""The robot head's prompt tables: an emoji and a few questions per emotion, per language, checked on load."""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..classes import CLASSES
from ..paths import config_path

DEFAULT_IDLE_EMOJI = "🤖"
"""A robot face for "nobody there": unlike 😶 or 🙂 it cannot be mistaken for one of the seven emotions."""

SHIPPED_LANGUAGES = ("en", "fr")
MIN_SHIPPED_QUESTIONS = 3
MIN_USER_QUESTIONS = 1

# A prompt table is a few kilobytes; a larger file (or a FIFO, a device) is refused before it is read.
MAX_PROMPTS_BYTES = 256 * 1024

_TOP_LEVEL_KEYS = ("language", "idle_emoji", "emotions")
_EMOTION_KEYS = ("emoji", "questions")  # required; "name" (the word shown for the emotion) is optional


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a prompt table needs none, and a few hundred bytes of nested aliases expand to
    gigabytes (a "billion laughs")."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a prompt table",
                                              event.start_mark)
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class PromptTable:
    """The emoji and questions of one language, checked once when loaded."""

    language: str
    idle_emoji: str
    emoji: dict  # emotion -> emoji string
    questions: dict  # emotion -> tuple of questions
    names: dict  # emotion -> the word shown for it in this language (the class name when the file gives none)
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
    unknown = sorted(str(key) for key in entry if key not in (*_EMOTION_KEYS, "name"))
    if unknown:
        raise ValueError(f"{source}: {where} has unknown key(s) {', '.join(unknown)} "
                         f"(expected 'emoji', 'questions' and optionally 'name')")
    for key in _EMOTION_KEYS:
        if key not in entry:
            raise ValueError(f"{source}: {where} is missing '{key}'")
    emoji = _check_emoji(source, f"{where}.emoji", entry["emoji"])
    name = _check_text(source, f"{where}.name", entry.get("name", emotion), "the word shown for the emotion")
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
    return emoji, tuple(checked), name


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
    emoji, questions, names = {}, {}, {}
    for name in CLASSES:
        emoji[name], questions[name], names[name] = _parse_emotion(source, name, emotions[name], min_questions)
    return PromptTable(language, idle_emoji, emoji, questions, names, str(source))


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
    mode = path.stat().st_mode  # FileNotFoundError for a missing file
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file")
    if path.stat().st_size > MAX_PROMPTS_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes, more than a prompt table's {MAX_PROMPTS_BYTES}")
    with open(path, "rb") as handle:
        data = handle.read(MAX_PROMPTS_BYTES + 1)[:MAX_PROMPTS_BYTES]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error})") from error
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValueError(f"{path}: YAML syntax error{place}: {problem}") from error
    return _parse_table(path, document, min_questions)
