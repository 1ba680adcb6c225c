"""The head screen gets real colour emoji, not tofu boxes or blank squares (needs fonts-noto-color-emoji)."""

import numpy as np
import pytest

from emotion_ros.social.emoji import FONT_PATH_ENV_VAR, render_emoji
from emotion_ros.social.prompts import load_prompts


def chromatic_fraction(image):
    """Share of pixels whose channels differ clearly: gray or black text rendering would give none."""
    channels = image.astype(int)
    return float(np.mean(channels.max(axis=2) - channels.min(axis=2) > 60))


@pytest.mark.parametrize("size", [64, 256])
def test_rendered_emoji_is_a_colour_bgr_image(size):
    image = render_emoji("😄", size=size)
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    assert chromatic_fraction(image) > 0.3
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 100
    # the face is yellow: in BGR that is little blue, much green and red
    blue, green, red = np.median(image[size // 2 - 4:size // 2 + 4, size // 4], axis=0)
    assert red > 200 and green > 150 and blue < 100


def test_emoji_is_centred_on_the_background():
    image = render_emoji("😐", size=200, background=(255, 0, 0))
    assert tuple(image[0, 0]) == (255, 0, 0) and tuple(image[-1, -1]) == (255, 0, 0)
    drawn_rows, drawn_columns = np.nonzero(np.any(image != (255, 0, 0), axis=2))
    assert abs((drawn_rows.min() + drawn_rows.max()) / 2 - 100) <= 3
    assert abs((drawn_columns.min() + drawn_columns.max()) / 2 - 100) <= 3


def test_every_emotion_emoji_renders_differently():
    table = load_prompts("en")
    faces = [render_emoji(emoji, size=96) for emoji in table.emoji.values()]
    assert all(chromatic_fraction(image) > 0.3 for image in faces)
    idle = render_emoji(table.idle_emoji, size=96)
    assert chromatic_fraction(idle) > 0.03  # a mostly gray robot, but with its red ears
    images = [*faces, idle]
    for index, image in enumerate(images):
        for other in images[index + 1:]:
            assert np.mean(np.abs(image.astype(int) - other.astype(int))) > 5


def test_missing_font_says_which_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv(FONT_PATH_ENV_VAR, str(tmp_path / "missing.ttf"))
    with pytest.raises(FileNotFoundError, match="fonts-noto-color-emoji"):
        render_emoji("😄")


def test_bad_requests_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        render_emoji("")
    with pytest.raises(ValueError, match="no glyph"):
        render_emoji("A")
