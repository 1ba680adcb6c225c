"""The robot head's voice: its questions said aloud by espeak-ng (the Debian package), in their language,
one at a time.

A question that comes while another is being said waits for it to end; only the newest waiting question is
kept, since a question overtaken by a newer one no longer fits the face in front of the robot.
"""

import shutil
import subprocess
import threading
from pathlib import Path

ESPEAK = "espeak-ng"
# The prompt tables' languages and the espeak-ng voice that says each.
VOICES = {"en": "en-us", "fr": "fr-fr"}
# A question is a sentence or two; a longer text is cut here, so one message cannot hold the voice for minutes.
MAX_SPOKEN_CHARACTERS = 400
SPEECH_TIMEOUT = 60.0


def espeak_command(text, language="en", rate=160, wav_path=None):
    """The espeak-ng command that says `text` (or writes it to `wav_path`) at `rate` words per minute."""
    if language not in VOICES:
        raise ValueError(f"no voice for language {language!r}: choose one of {', '.join(VOICES)}")
    executable = shutil.which(ESPEAK)
    if executable is None:
        raise FileNotFoundError(f"{ESPEAK} is not installed: sudo apt-get install {ESPEAK} (make setup does)")
    command = [executable, "-v", VOICES[language], "-s", str(int(rate))]
    if wav_path is not None:
        command += ["-w", str(wav_path)]
    return command + ["--", text[:MAX_SPOKEN_CHARACTERS]]  # "--": a text that starts with "-" is no option


def synthesize(text, wav_path, language="en", rate=160):
    """Write `text` spoken in `language` to the WAV file `wav_path`."""
    result = subprocess.run(espeak_command(text, language, rate, wav_path), capture_output=True, text=True,
                            timeout=SPEECH_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"{ESPEAK} failed: {result.stderr.strip() or result.returncode}")
    return Path(wav_path)


class Voice:
    """Says texts one at a time on a thread of its own, on the sound device or, with `wav_dir`, into numbered
    WAV files there (a robot without speakers, a test). `on_speak(text)` is called as each text starts,
    `on_error(message)` when espeak-ng fails."""

    def __init__(self, language="en", rate=160, wav_dir=None, on_speak=None, on_error=None):
        espeak_command("", language, rate)  # an unknown language or a missing espeak-ng fails here, at once
        self.language, self.rate = language, rate
        self.wav_dir = Path(wav_dir) if wav_dir else None
        self.on_speak, self.on_error = on_speak, on_error
        self.spoken = 0
        self._waiting = None
        self._condition = threading.Condition()
        self._speaking = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()

    def say(self, text):
        """Say `text` after what is being said; it replaces a text still waiting."""
        if not text:
            return
        with self._condition:
            self._waiting = text
            self._condition.notify()

    @property
    def busy(self):
        with self._condition:
            return self._speaking or self._waiting is not None

    def close(self):
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join(timeout=SPEECH_TIMEOUT)

    def _run(self):
        while True:
            with self._condition:
                while self._waiting is None and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                text, self._waiting, self._speaking = self._waiting, None, True
            try:
                if self.on_speak:
                    self.on_speak(text)
                self._speak(text)
            except (OSError, RuntimeError, subprocess.SubprocessError) as error:
                if self.on_error:
                    self.on_error(str(error))
            finally:
                with self._condition:
                    self._speaking = False
                    self._condition.notify_all()

    def _speak(self, text):
        self.spoken += 1
        if self.wav_dir is None:
            result = subprocess.run(espeak_command(text, self.language, self.rate), capture_output=True, text=True,
                                    timeout=SPEECH_TIMEOUT)
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            if result.returncode != 0 or errors:  # no sound device: espeak-ng says so and exits 0
                raise RuntimeError(f"{ESPEAK} could not play (is there a sound device?): "
                                   f"{(errors or [result.stderr.strip()])[-1] or result.returncode}")
            return
        self.wav_dir.mkdir(parents=True, exist_ok=True)
        synthesize(text, self.wav_dir / f"question_{self.spoken:04d}_{self.language}.wav", self.language, self.rate)
