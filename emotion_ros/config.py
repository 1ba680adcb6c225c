"""Reading the nodes' parameter files (ROS 2 `ros__parameters` YAML) without ROS."""

from pathlib import Path

import yaml

from .paths import config_path

DEFAULT_PARAMS = "params.yaml"
# The executables CMakeLists.txt installs, the launch file starts and params.yaml configures, in pipeline order;
# speech_node only when asked to speak.
NODE_EXECUTABLES = ("camera_node", "face_detection_node", "emotion_classifier_node", "social_response_node",
                    "speech_node")
# The key of a parameter file's section for every node (ROS's wildcard).
EVERY_NODE = "/**"
# A parameter file is a few kilobytes: a larger one is refused before it is parsed.
MAX_PARAMS_FILE_BYTES = 1 << 20


def params_file(path):
    """The parameter file `path`, or the shipped one of that name (`config/photos.yaml` from any folder)."""
    given = Path(path).expanduser()
    if given.is_file():
        return given
    try:
        return config_path(given.name) if given.parent.name in ("", "config") else given
    except FileNotFoundError:
        raise FileNotFoundError(f"parameter file not found: {path}") from None


def load_params(*paths):
    """{node name: {parameter: value}} from params.yaml, overridden in turn by each file in `paths`.

    A section is keyed by the node's name (`face_detection_node`), by a namespaced name or ROS's wildcard
    form (`/head/face_detection_node`, `/**/face_detection_node`: the name after the last `/`), or `/**` for
    every node: a file written for the plain names applies to the nodes under any namespace.
    """
    merged = {}
    for path in (config_path(DEFAULT_PARAMS), *paths):
        for node, parameters in read_params_file(path).items():
            merged.setdefault(node, {}).update(parameters)
    return merged


def check_params_file(path):
    """`path` as a Path if it is a parameter file of at most MAX_PARAMS_FILE_BYTES."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file not found: {path}")
    if path.stat().st_size > MAX_PARAMS_FILE_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes, more than a parameter file's {MAX_PARAMS_FILE_BYTES}")
    return path


def read_params_file(path):
    """{node name or EVERY_NODE: {parameter: value}} of one parameter file, its keys as `load_params` reads them."""
    path = check_params_file(path)
    with open(path) as handle:
        try:
            document = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping of node names to ros__parameters")
    sections = {}
    for node, section in document.items():
        parameters = (section or {}).get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(parameters, dict):
            raise ValueError(f"{path}: node {node!r} has no ros__parameters mapping")
        name = EVERY_NODE if str(node) in (EVERY_NODE, "/*") else str(node).rstrip("/").rsplit("/", 1)[-1]
        sections.setdefault(name, {}).update(parameters)
    return sections


def node_params(node_name, *paths):
    """The parameters of one node from params.yaml, then each file in `paths`: in each, the section for every
    node (the parameters this node has: params.yaml names them all), then the one for its name."""
    params = {}
    for path in (config_path(DEFAULT_PARAMS), *paths):
        sections = read_params_file(path)
        declared = set(params) or set(sections.get(node_name, {}))
        params.update({name: value for name, value in sections.get(EVERY_NODE, {}).items() if name in declared})
        params.update(sections.get(node_name, {}))
    return params


def unknown_node_names(path, node_names=NODE_EXECUTABLES):
    """The section names of a parameter file that are none of the nodes' (a misspelt node name does nothing)."""
    return sorted(set(read_params_file(path)) - set(node_names) - {EVERY_NODE})
