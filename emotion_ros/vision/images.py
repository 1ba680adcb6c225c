"""Checking images and converting them to and from sensor_msgs/Image fields, without ROS.

The conversion works on any object with the Image fields (rclpy messages and rosbags messages alike),
so it replaces cv_bridge, whose PyPI port breaks on numpy 2.
"""

from pathlib import Path

import cv2
import numpy as np

MIN_IMAGE_SIDE = 8
# The longest side of an image taken from a message or a file: 8K video (7680x4320) passes; a larger one, or a
# few hundred bytes of JPEG or PNG that would decode to gigabytes, is refused before it is decoded.
MAX_IMAGE_SIDE = 8192
# Files read as photos, from folders (camera_node, `bag record-photos`) and datasets alike.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# encoding -> (bytes per pixel, OpenCV conversion to BGR or None). The YUV 4:2:2 and Bayer encodings are
# what USB and industrial camera drivers publish without conversion. ROS names a Bayer pattern by its first
# row, OpenCV by its second: ROS bayer_rggb8 is OpenCV's BayerBG.
ENCODINGS = {
    "bgr8": (3, None),
    "rgb8": (3, cv2.COLOR_RGB2BGR),
    "mono8": (1, cv2.COLOR_GRAY2BGR),
    "bgra8": (4, cv2.COLOR_BGRA2BGR),
    "rgba8": (4, cv2.COLOR_RGBA2BGR),
    "yuv422": (2, cv2.COLOR_YUV2BGR_UYVY),
    "uyvy": (2, cv2.COLOR_YUV2BGR_UYVY),
    "yuv422_yuy2": (2, cv2.COLOR_YUV2BGR_YUY2),
    "yuyv": (2, cv2.COLOR_YUV2BGR_YUY2),
    "bayer_rggb8": (1, cv2.COLOR_BayerBG2BGR),
    "bayer_bggr8": (1, cv2.COLOR_BayerRG2BGR),
    "bayer_gbrg8": (1, cv2.COLOR_BayerGR2BGR),
    "bayer_grbg8": (1, cv2.COLOR_BayerGB2BGR),
    "mono16": (2, None),
}


def check_image(image):
    """Return `image` if it is a uint8 gray (H, W) or BGR (H, W, 3) picture; otherwise a clear ValueError."""
    if image is None:
        raise ValueError("no image (None): the file could not be read or the frame is missing")
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"image must be (H, W) gray or (H, W, 3) BGR, got shape {image.shape}")
    if min(image.shape[:2]) < MIN_IMAGE_SIDE:
        raise ValueError(f"image is too small to hold a face: {image.shape[1]}x{image.shape[0]} pixels")
    return image


def check_frame_size(width, height):
    """A ValueError for a picture larger than MAX_IMAGE_SIDE on a side (one too small for a face is refused
    where faces are searched, by `check_image`)."""
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ValueError(f"image of {width}x{height} pixels is larger than {MAX_IMAGE_SIDE} pixels on a side")


def encoded_size(data):
    """(width, height) from the header of a JPEG or PNG file's bytes, without decoding it; ValueError when the
    bytes are neither."""
    data = memoryview(data)[: 1 << 20]  # a view: no copy of the frame's bytes for every image
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        offset = 2
        while offset + 9 <= len(data):
            if data[offset] != 0xFF:
                break
            marker = data[offset + 1]
            if marker == 0xFF:  # fill byte
                offset += 1
                continue
            if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
                offset += 2
                continue
            length = int.from_bytes(data[offset + 2 : offset + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame: the size
                width, height = data[offset + 7 : offset + 9], data[offset + 5 : offset + 7]
                return int.from_bytes(width, "big"), int.from_bytes(height, "big")
            offset += 2 + length
        raise ValueError("JPEG without a readable frame size in its first MiB")
    raise ValueError("neither JPEG nor PNG")


def image_from_msg(msg):
    """BGR uint8 (H, W, 3) from a sensor_msgs/Image of any encoding in ENCODINGS; ValueError for what it
    cannot read. mono16 is stretched to the frame's own range (infrared cameras use 10 to 16 bits)."""
    if msg.encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; expected one of {', '.join(ENCODINGS)}")
    pixel_bytes, conversion = ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ValueError(f"empty image ({width}x{height})")
    check_frame_size(width, height)
    if step < width * pixel_bytes:
        raise ValueError(f"step {step} is shorter than a row of {width} {msg.encoding} pixels")
    if pixel_bytes == 2 and msg.encoding != "mono16" and width % 2:
        raise ValueError(f"{msg.encoding} needs an even width, got {width}")
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    if data.size < step * height:
        raise ValueError(f"image data has {data.size} bytes, fewer than step x height = {step * height}")
    rows = np.ascontiguousarray(data[: step * height].reshape(height, step)[:, : width * pixel_bytes])
    if msg.encoding == "mono16":
        gray = rows.view(">u2" if msg.is_bigendian else "<u2").reshape(height, width)
        gray = cv2.normalize(gray, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    pixels = rows.reshape(height, width, pixel_bytes)
    if conversion is None:
        return pixels
    return cv2.cvtColor(pixels[:, :, 0] if pixel_bytes == 1 else pixels, conversion)


def image_from_compressed(msg):
    """BGR uint8 (H, W, 3) from a sensor_msgs/CompressedImage (JPEG or PNG); ValueError when it does not decode
    or its header gives a size `check_frame_size` refuses (checked before decoding)."""
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    try:
        check_frame_size(*encoded_size(data))
    except ValueError as error:
        raise ValueError(f"compressed image ({msg.format or 'no format'}, {data.size} bytes): {error}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"compressed image ({msg.format or 'no format'}, {data.size} bytes) does not decode")
    return image


def decode_image(msg):
    """BGR from an Image or a CompressedImage (told apart by CompressedImage's `format` field)."""
    return image_from_compressed(msg) if hasattr(msg, "format") else image_from_msg(msg)


def compressed_fields(image_bgr, image_format="jpeg", quality=90):
    """The CompressedImage fields (format, data) of `image_bgr`, as image_transport's compressed plugin names
    them: "bgr8; jpeg compressed bgr8"."""
    suffix, params = (".png", []) if image_format == "png" else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    ok, data = cv2.imencode(suffix, image_bgr, params)
    if not ok:
        raise ValueError(f"cannot encode the image as {image_format}")
    return {"format": f"bgr8; {image_format} compressed bgr8", "data": data.reshape(-1)}


def image_fields(image_bgr):
    """The Image fields (height, width, encoding, is_bigendian, step, data): bgr8 for colour, mono8 for gray."""
    image = np.asarray(image_bgr)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2 and not (image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    channels = 1 if image.ndim == 2 else 3
    return {
        "height": image.shape[0],
        "width": image.shape[1],
        "encoding": "mono8" if channels == 1 else "bgr8",
        "is_bigendian": 0,
        "step": image.shape[1] * channels,
        "data": np.ascontiguousarray(image).reshape(-1),
    }


def read_photo(path, flags=cv2.IMREAD_COLOR):
    """BGR uint8 of a photo file (gray kept gray with cv2.IMREAD_ANYCOLOR); ValueError naming the problem:
    unreadable, empty, a JPEG or PNG whose header gives a size `check_frame_size` refuses (read before
    decoding), or bytes that do not decode."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read: {error.strerror or error}") from None
    if not data:
        raise ValueError("empty file")
    try:
        size = encoded_size(data)
    except ValueError:
        size = None  # another format (BMP, WebP): decoded, then checked
    if size:
        check_frame_size(*size)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        raise ValueError(f"cannot decode: {error}") from None
    if image is None:
        raise ValueError("not a decodable image")
    check_frame_size(image.shape[1], image.shape[0])
    return image


def photo_paths(directory, recursive=False):
    """The photos of a folder (and of its sub-folders when `recursive`), sorted by path."""
    files = Path(directory).rglob("*") if recursive else Path(directory).iterdir()
    paths = sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise FileNotFoundError(f"no photos ({', '.join(IMAGE_SUFFIXES)}) in {directory}")
    return paths
