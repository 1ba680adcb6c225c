"""Draws real colour emoji for the robot head's screen, as OpenCV-ready BGR images."""

import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

NOTO_COLOR_EMOJI = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_PATH_ENV_VAR = "EMOTION_ROS_EMOJI_FONT"
FONT_PACKAGE = "fonts-noto-color-emoji"

# Noto Color Emoji is a bitmap (CBDT) font: FreeType loads it only at its one strike size.
_BITMAP_STRIKE_SIZE = 109
# The glyph spans this fraction of the square, so it never touches the edge of a round head screen.
_GLYPH_FILL = 0.9


def emoji_font_path(font_path=None):
    """The font to use: the argument, else $EMOTION_ROS_EMOJI_FONT, else the Debian Noto Color Emoji."""
    path = Path(font_path or os.environ.get(FONT_PATH_ENV_VAR) or NOTO_COLOR_EMOJI).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"colour emoji font not found at {path}; install it with `sudo apt-get install {FONT_PACKAGE}` "
            f"or point ${FONT_PATH_ENV_VAR} (or font_path) to a colour emoji font")
    return path


@functools.lru_cache(maxsize=4)
def _load_font(path):
    """Loading the 10 MB font takes tens of milliseconds, too slow to repeat at every emoji change."""
    try:
        return ImageFont.truetype(path, _BITMAP_STRIKE_SIZE)
    except OSError as error:
        raise OSError(f"{path} cannot be loaded as a colour emoji font at size {_BITMAP_STRIKE_SIZE}: "
                      f"{error}") from error


def render_emoji(emoji, size=256, background=(0, 0, 0), font_path=None):
    """A (size, size, 3) uint8 BGR image of `emoji` centred on `background` (a BGR colour; black suits a
    head screen)."""
    if not emoji:
        raise ValueError("no emoji to render: got an empty string")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    font = _load_font(str(emoji_font_path(font_path)))
    left, top, right, bottom = font.getbbox(emoji, mode="RGBA")
    glyph = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(glyph).text((-left, -top), emoji, font=font, embedded_color=True)
    ink = glyph.getbbox()
    if ink is None:
        raise ValueError(f"the font has no glyph for {emoji!r}")
    glyph = glyph.crop(ink)  # centre the drawing itself, not the glyph's advance box
    scale = _GLYPH_FILL * size / max(glyph.size)
    glyph_size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    glyph = glyph.resize(glyph_size, Image.Resampling.LANCZOS)
    blue, green, red = (int(channel) for channel in background)
    canvas = Image.new("RGBA", (size, size), (red, green, blue, 255))
    canvas.alpha_composite(glyph, ((size - glyph.width) // 2, (size - glyph.height) // 2))
    rgb = np.asarray(canvas.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])
