"""The head's voice: questions said by espeak-ng, checked as WAV files (no sound device needed)."""

import threading
import wave

import numpy as np
import pytest

from emotion_ros.social.prompts import load_prompts
from emotion_ros.social.speech import Voice, espeak_command, synthesize


def speech_in(path):
    """(seconds, RMS of the samples) of a 16-bit mono WAV file."""
    with wave.open(str(path)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).astype(np.float64)
        return wav.getnframes() / wav.getframerate(), float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_question_becomes_speech_in_its_language(tmp_path, language):
    question = load_prompts(language).questions["sad"][0]
    seconds, loudness = speech_in(synthesize(question, tmp_path / "q.wav", language))
    assert 1.0 < seconds < 15.0  # a sentence, said at 160 words per minute
    assert loudness > 500  # not silence (full scale is 32767)
    silence = synthesize(".", tmp_path / "dot.wav", language)
    assert speech_in(silence)[0] < seconds


def test_the_voice_never_speaks_over_itself_and_keeps_only_the_newest_waiting_question(tmp_path):
    started, spoken = threading.Event(), []

    def on_speak(text):
        spoken.append(text)
        started.set()

    voice = Voice("en", wav_dir=tmp_path, on_speak=on_speak)
    try:
        voice.say("This first question takes a moment to say, long enough for two more to arrive.")
        assert started.wait(10)
        voice.say("A second question, overtaken before it is said.")
        voice.say("The third and newest question.")
        for _ in range(300):
            if not voice.busy:
                break
            threading.Event().wait(0.1)
    finally:
        voice.close()
    assert spoken == ["This first question takes a moment to say, long enough for two more to arrive.",
                      "The third and newest question."]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["question_0001_en.wav", "question_0002_en.wav"]


def test_a_text_cannot_pass_for_an_option_and_unknown_languages_are_refused():
    assert espeak_command("-w /etc/passwd", "en")[-2:] == ["--", "-w /etc/passwd"]
    with pytest.raises(ValueError, match="no voice for language 'de'"):
        espeak_command("Hallo", "de")
