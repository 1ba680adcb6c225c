"""Start the four emotion_ros nodes: camera -> face detection -> emotion classifier -> social response.

    ros2 launch emotion_ros bringup.launch.py                     # camera 0, retried while it is absent
    ros2 launch emotion_ros bringup.launch.py source:=/path/to/photos
    ros2 launch emotion_ros bringup.launch.py source:=0 params_file:=/path/to/my_params.yaml
    ros2 launch emotion_ros bringup.launch.py use_camera:=false   # images from `ros2 bag play`
    ros2 launch emotion_ros bringup.launch.py use_camera:=false image_topic:=/camera/color/image_raw
    ros2 launch emotion_ros bringup.launch.py namespace:=head   # /head/emotions, /head/emoji, ...
    ros2 launch emotion_ros bringup.launch.py speak:=true       # the questions said aloud (espeak-ng)
    ros2 launch emotion_ros bringup.launch.py autostart:=false  # detector and classifier left unconfigured

The parameter file is read here and given to each node as its own parameters, so a file written for the plain
node names (`face_detection_node:`) applies under any namespace; a section that names no node is warned about.
A node that dies is started again after `respawn_delay` seconds (`respawn:=false` leaves it dead). Each process
it starts loads the shipped Fast DDS profile for camera-size images (config/fastdds_image_*.xml): the nodes that
read images take them over UDP from any driver, the camera publishes through a large shared-memory segment.
`emotion-ros bringup` runs the same nodes with the same parameter files where `ros2 launch` is missing.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from emotion_ros.config import NODE_EXECUTABLES, node_params, read_params_file, unknown_node_names
from emotion_ros.nodes.common import IMAGE_READING_NODES, shipped_dds_profile_environment


def launch_nodes(context, default_params):
    """The nodes, with the parameter file resolved: params.yaml, then the user's file, one dict per node."""
    params_file = LaunchConfiguration("params_file").perform(context)
    if not os.path.isfile(params_file):
        raise FileNotFoundError(f"params_file not found: {params_file}")
    user_files = [] if os.path.samefile(params_file, default_params) else [params_file]
    actions = [LogInfo(msg=f"{params_file}: no node is named {name!r} (the nodes: {', '.join(NODE_EXECUTABLES)})")
               for path in user_files for name in unknown_node_names(path)]
    def flag(name):
        return LaunchConfiguration(name).perform(context).lower() in ("true", "1", "yes")

    respawn_delay = float(LaunchConfiguration("respawn_delay").perform(context))
    for executable in NODE_EXECUTABLES:
        values = node_params(executable, *user_files)
        if executable == "speech_node":
            if not flag("speak"):
                continue
            # the questions' language, unless the file gives the voice its own
            if not any("language" in read_params_file(path).get("speech_node", {}) for path in user_files):
                values["language"] = node_params("social_response_node", *user_files)["language"]
        # Text stays text: launch_ros would read a string such as "0" or "" as YAML and change its type.
        parameters = {name: ParameterValue(value, value_type=str) if isinstance(value, str) else value
                      for name, value in values.items()}
        if executable in ("face_detection_node", "emotion_classifier_node"):  # lifecycle nodes
            parameters["autostart"] = flag("autostart")
        if executable == "camera_node":
            if not flag("use_camera"):
                continue
            # `source:=0` is camera 0, and a folder named 2024 stays a folder name
            parameters["source"] = ParameterValue(LaunchConfiguration("source"), value_type=str)
        actions.append(Node(package="emotion_ros", executable=executable, name=executable,
                            namespace=LaunchConfiguration("namespace"), parameters=[parameters],
                            remappings=[("image_raw", LaunchConfiguration("image_topic"))], output="screen",
                            respawn=flag("respawn"), respawn_delay=respawn_delay,
                            additional_env=shipped_dds_profile_environment(executable in IMAGE_READING_NODES,
                                                                           context.environment)))
    return actions


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("emotion_ros"), "config", "params.yaml")
    arguments = [
        DeclareLaunchArgument("source", default_value="0",
                              description="camera index, /dev/videoN, a video file or a directory of photos"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="YAML parameters applied on top of the package's config/params.yaml; "
                                          "sections named after the nodes apply under any namespace"),
        DeclareLaunchArgument("use_camera", default_value="true",
                              description="start camera_node; false when image_raw comes from a bag or a driver"),
        DeclareLaunchArgument("image_topic", default_value="image_raw",
                              description="the image topic the nodes read (and camera_node publishes), e.g. a "
                                          "camera driver's /camera/color/image_raw"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the four nodes and their topics, for several instances"),
        DeclareLaunchArgument("speak", default_value="false",
                              description="also start speech_node: the head's questions said aloud with espeak-ng"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="bring the lifecycle nodes (face detection, emotion classifier) to active; "
                                          "false leaves them unconfigured for your lifecycle manager"),
        DeclareLaunchArgument("respawn", default_value="true", description="start a node again when it dies"),
        DeclareLaunchArgument("respawn_delay", default_value="2.0",
                              description="seconds before a dead node is started again"),
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=launch_nodes, args=[default_params])])
