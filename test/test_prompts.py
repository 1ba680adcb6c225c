"""The shipped prompt tables are complete, and each kind of broken user file is reported precisely."""

import pytest
import yaml

from emotion_ros.classes import CLASSES
from emotion_ros.paths import config_dir, config_path
from emotion_ros.social.prompts import MIN_SHIPPED_QUESTIONS, load_prompts
from emotion_ros.social.policy import SocialResponsePolicy

EXPECTED_EMOJI = {"angry": "😠", "disgust": "🤢", "fear": "😨", "happy": "😄", "sad": "😢",
                  "surprise": "😮", "neutral": "😐"}


def valid_document():
    return {"language": "en", "idle_emoji": "🤖",
            "emotions": {name: {"emoji": EXPECTED_EMOJI[name], "questions": [f"How {name} are you?"]}
                         for name in CLASSES}}


def write(tmp_path, document):
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("language", ["en", "fr"])
def test_shipped_tables_cover_every_emotion(language):
    table = load_prompts(language)
    assert table.language == language
    assert table.emoji == EXPECTED_EMOJI
    assert set(table.questions) == set(CLASSES)
    for name in CLASSES:
        assert len(table.questions[name]) >= MIN_SHIPPED_QUESTIONS
        assert all(question.rstrip().endswith(("?", "!")) for question in table.questions[name])
    assert table.idle_emoji not in EXPECTED_EMOJI.values()


def test_french_table_is_french():
    questions = [question for name in CLASSES for question in load_prompts("fr").questions[name]]
    text = " ".join(questions)
    assert any(letter in text for letter in "éèàçê")
    assert "vous" in text
    assert not set(questions) & set(q for name in CLASSES for q in load_prompts("en").questions[name])


def test_shipped_files_are_found_in_the_config_directory():
    assert config_path("prompts_en.yaml").parent.name == "config"
    assert (config_dir() / "prompts_fr.yaml").is_file()
    with pytest.raises(FileNotFoundError, match="no_such_file.yaml"):
        config_path("no_such_file.yaml")


def test_user_file_with_one_question_per_emotion_loads(tmp_path):
    table = load_prompts(write(tmp_path, valid_document()))
    assert table.questions["sad"] == ("How sad are you?",)
    assert str(tmp_path) in table.source
    assert SocialResponsePolicy(table).update(0.0, []).emoji == "🤖"


def test_idle_emoji_is_optional(tmp_path):
    document = valid_document()
    del document["idle_emoji"]
    assert load_prompts(write(tmp_path, document)).idle_emoji == "🤖"


def without_emotion(document):
    del document["emotions"]["fear"]


def with_unknown_emotion(document):
    document["emotions"]["joy"] = {"emoji": "😂", "questions": ["Funny?"]}


def with_number_emoji(document):
    document["emotions"]["happy"]["emoji"] = 5


def with_no_questions(document):
    document["emotions"]["sad"]["questions"] = []


def with_question_string(document):
    document["emotions"]["sad"]["questions"] = "Are you sad?"


def with_non_text_question(document):
    document["emotions"]["angry"]["questions"].append(None)


def with_duplicate_question(document):
    document["emotions"]["angry"]["questions"].append("How angry are you?")


def without_emotions(document):
    del document["emotions"]


def without_language(document):
    del document["language"]


def with_misspelled_key(document):
    document["emotions"]["neutral"]["question"] = document["emotions"]["neutral"].pop("questions")


def with_unknown_top_level_key(document):
    document["idle_emogi"] = document.pop("idle_emoji")


def with_emotion_as_list(document):
    document["emotions"]["surprise"] = ["😮", "Wow?"]


def with_spaced_idle_emoji(document):
    document["idle_emoji"] = "🤖 🤖"


@pytest.mark.parametrize("break_document, message", [
    (without_emotion, "emotion(s) missing under 'emotions': fear"),
    (with_unknown_emotion, "unknown emotion(s) joy"),
    (with_number_emoji, "emotions.happy.emoji must be a string"),
    (with_no_questions, "emotions.sad.questions has 0 question(s), at least 1 needed"),
    (with_question_string, "emotions.sad.questions must be a list of strings, got str"),
    (with_non_text_question, "emotions.angry.questions[1] must be a string"),
    (with_duplicate_question, "emotions.angry.questions[1] repeats an earlier question"),
    (without_emotions, "missing 'emotions' key"),
    (without_language, "missing 'language' key"),
    (with_misspelled_key, "emotions.neutral has unknown key(s) question"),
    (with_unknown_top_level_key, "unknown top-level key(s) idle_emogi"),
    (with_emotion_as_list, "emotions.surprise must be a mapping"),
    (with_spaced_idle_emoji, "idle_emoji must be one emoji without spaces"),
])
def test_broken_file_names_the_file_and_the_problem(tmp_path, break_document, message):
    document = valid_document()
    break_document(document)
    path = write(tmp_path, document)
    with pytest.raises(ValueError) as raised:
        load_prompts(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_shipped_minimum_applies_when_asked(tmp_path):
    expected = r"emotions\.angry\.questions has 1 question\(s\), at least 3 needed"
    with pytest.raises(ValueError, match=expected):
        load_prompts(write(tmp_path, valid_document()), min_questions=MIN_SHIPPED_QUESTIONS)


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "prompts.yaml"
    path.write_text("language: en\nemotions:\n  happy:\n    emoji: \"😄\n    questions: []\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"YAML syntax error at line \d+, column \d+") as raised:
        load_prompts(path)
    assert str(path) in str(raised.value)


def test_yaml_syntax_error_line_is_the_offending_line(tmp_path):
    path = tmp_path / "prompts.yaml"
    path.write_text("language: en\nidle_emoji: [\"🤖\"\nemotions: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3,"):
        load_prompts(path)


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ("- en\n- fr\n", "the top level must be a mapping"),
    ("language: en\nemotions: [happy, sad]\n", "'emotions' must be a mapping"),
])
def test_wrong_shapes_are_reported(tmp_path, content, message):
    path = tmp_path / "prompts.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_prompts(path)


def test_missing_user_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_prompts(tmp_path / "nowhere.yaml")


def test_alias_bombs_fifos_and_huge_files_are_refused_before_they_cost_anything(tmp_path):
    import os
    import resource

    bomb = tmp_path / "laughs.yaml"  # 508 bytes that would expand to hundreds of millions of strings
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    bomb.write_text("\n".join(levels) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="aliases .* are not allowed"):
        load_prompts(bomb)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    fifo = tmp_path / "prompts.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load_prompts(fifo)  # returns at once: a FIFO is never opened
    huge = write(tmp_path, valid_document())
    huge.write_text(huge.read_text(encoding="utf-8") + "#" * 300_000, encoding="utf-8")
    with pytest.raises(ValueError, match="more than a prompt table's"):
        load_prompts(huge)
