"""Checking images and converting them to and from sensor_msgs/Image fields, without ROS.

The conversion works on any object with the Image fields (rclpy messages and rosbags messages alike),
so it replaces cv_bridge, whose PyPI port breaks on numpy 2.
"""

import numpy as np

MIN_IMAGE_SIDE = 8
# Files read as photos, from folders (camera_node, `bag record-photos`) and datasets alike.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# encoding -> channels per pixel
ENCODINGS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}


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


def image_from_msg(msg):
    """BGR uint8 (H, W, 3) from a sensor_msgs/Image; ValueError for what it cannot read."""
    channels = ENCODINGS.get(msg.encoding)
    if channels is None:
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; expected one of {', '.join(ENCODINGS)}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ValueError(f"empty image ({width}x{height})")
    if step < width * channels:
        raise ValueError(f"step {step} is shorter than a row of {width} {msg.encoding} pixels")
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    if data.size < step * height:
        raise ValueError(f"image data has {data.size} bytes, fewer than step x height = {step * height}")
    rows = data[: step * height].reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels)
    if msg.encoding == "bgr8":
        return np.ascontiguousarray(pixels)
    if msg.encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if msg.encoding == "rgb8":
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if msg.encoding == "bgra8":
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.ascontiguousarray(pixels[:, :, 2::-1])  # rgba8


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
