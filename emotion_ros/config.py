"""Reading the nodes' parameter files (ROS 2 `ros__parameters` YAML) without ROS."""

import yaml

from .paths import config_path

DEFAULT_PARAMS = "params.yaml"
# The executables CMakeLists.txt installs, the launch file starts and params.yaml configures, in pipeline order.
NODE_EXECUTABLES = ("camera_node", "face_detection_node", "emotion_classifier_node", "social_response_node")


def load_params(*paths):
    """{node name: {parameter: value}} from params.yaml, overridden in turn by each file in `paths`."""
    merged = {}
    for path in (config_path(DEFAULT_PARAMS), *paths):
        with open(path) as handle:
            try:
                document = yaml.safe_load(handle) or {}
            except yaml.YAMLError as error:
                raise ValueError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected a mapping of node names to ros__parameters")
        for node, section in document.items():
            parameters = (section or {}).get("ros__parameters") if isinstance(section, dict) else None
            if not isinstance(parameters, dict):
                raise ValueError(f"{path}: node {node!r} has no ros__parameters mapping")
            merged.setdefault(node, {}).update(parameters)
    return merged


def node_params(node_name, *paths):
    return load_params(*paths).get(node_name, {})
