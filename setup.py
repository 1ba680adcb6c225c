"""`pip install .`: the ROS-free core, the shipped model and the `emotion-ros` command, without rclpy.

ROS users build the same package with colcon (CMakeLists.txt), which adds the messages and the nodes.
"""

from setuptools import setup

setup(
    name="emotion_ros",
    version="0.1.0",
    description="Faces, seven emotions and a social robot's answer: a ROS 2 package with a ROS-free core",
    license="MIT",
    python_requires=">=3.10",
    packages=["emotion_ros", *(f"emotion_ros.{layer}" for layer in ("vision", "social", "nodes", "bags", "model", "apps")),
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
        "mtcnn",
        "tensorflow-cpu",
        "matplotlib",
        "pyyaml",
        "pillow",
        "tqdm",
        "rosbags",
    ],
    entry_points={"console_scripts": ["emotion-ros = emotion_ros.apps.cli:main"]},
)
