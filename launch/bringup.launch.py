"""Start the four emotion_ros nodes: camera -> face detection -> emotion classifier -> social response.

    ros2 launch emotion_ros bringup.launch.py source:=/path/to/photos
    ros2 launch emotion_ros bringup.launch.py source:=0 params_file:=/path/to/my_params.yaml
    ros2 launch emotion_ros bringup.launch.py use_camera:=false   # images from `ros2 bag play`
    ros2 launch emotion_ros bringup.launch.py use_camera:=false image_topic:=/camera/color/image_raw
    ros2 launch emotion_ros bringup.launch.py namespace:=head   # /head/emotions, /head/emoji, ...

`emotion-ros bringup` runs the same nodes with the same parameter files where `ros2 launch` is missing.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from emotion_ros.config import NODE_EXECUTABLES


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("emotion_ros"), "config", "params.yaml")
    params_file = LaunchConfiguration("params_file")
    arguments = [
        DeclareLaunchArgument("source", default_value="0",
                              description="camera index, /dev/videoN, a video file or a directory of photos"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="YAML parameters applied on top of the package's config/params.yaml"),
        DeclareLaunchArgument("use_camera", default_value="true",
                              description="start camera_node; false when image_raw comes from a bag or a driver"),
        DeclareLaunchArgument("image_topic", default_value="image_raw",
                              description="the image topic the nodes read (and camera_node publishes), e.g. a "
                                          "camera driver's /camera/color/image_raw"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the four nodes and their topics, for several instances"),
    ]
    nodes = []
    for executable in NODE_EXECUTABLES:
        parameters = [default_params, params_file]
        condition = None
        if executable == "camera_node":
            parameters.append({"source": LaunchConfiguration("source")})
            condition = IfCondition(LaunchConfiguration("use_camera"))
        nodes.append(Node(package="emotion_ros", executable=executable, name=executable,
                          namespace=LaunchConfiguration("namespace"), parameters=parameters,
                          remappings=[("image_raw", LaunchConfiguration("image_topic"))], output="screen",
                          condition=condition))
    return LaunchDescription(arguments + nodes)
