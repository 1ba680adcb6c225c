"""The package's pieces agree: executables, launch file, parameter files, messages and class list."""

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

from emotion_ros import CLASSES
from emotion_ros.config import NODE_EXECUTABLES, load_params

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = {name: f"emotion_ros.nodes.{name}" for name in NODE_EXECUTABLES}


def cmake_installed_programs():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    block = re.search(r"install\(PROGRAMS(.*?)DESTINATION", cmake, re.S).group(1)
    return tuple(Path(line.strip()).name for line in block.split() if line.strip())


def test_cmake_installs_exactly_the_node_executables():
    assert cmake_installed_programs() == NODE_EXECUTABLES
    for name in NODE_EXECUTABLES:
        script = (ROOT / "scripts" / name).read_text()
        assert f"from {NODE_MODULES[name]} import main" in script


def test_params_yaml_configures_exactly_the_nodes():
    params = yaml.safe_load((ROOT / "config" / "params.yaml").read_text())
    assert tuple(params) == NODE_EXECUTABLES


@pytest.mark.parametrize("node", NODE_EXECUTABLES)
def test_every_parameter_has_a_default_and_a_description(node):
    module = importlib.import_module(NODE_MODULES[node])
    defaults = load_params()[node]
    assert set(module.PARAMETERS) == set(defaults)
    assert all(len(description) > 15 for description in module.PARAMETERS.values())


def test_photos_yaml_only_overrides_known_parameters():
    overrides = yaml.safe_load((ROOT / "config" / "photos.yaml").read_text())
    defaults = load_params()
    for node, section in overrides.items():
        assert set(section["ros__parameters"]) <= set(defaults[node])
    assert load_params(ROOT / "config" / "photos.yaml")["social_response_node"]["dwell_time"] == 0.0


def test_broken_parameter_file_names_the_problem(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("camera_node:\n  fps: 3\n")
    with pytest.raises(ValueError, match="camera_node.*no ros__parameters"):
        load_params(broken)


def test_launch_file_starts_the_four_executables_with_the_same_yaml():
    source = (ROOT / "launch" / "bringup.launch.py").read_text()
    tree = ast.parse(source)
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "emotion_ros.config" for alias in node.names}
    assert {"NODE_EXECUTABLES", "node_params", "unknown_node_names"} <= imports
    arguments = [node.args[0].value for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", "") == "DeclareLaunchArgument"]
    assert arguments == ["source", "params_file", "use_camera", "image_topic", "namespace", "speak", "autostart",
                         "respawn", "respawn_delay"]
    assert '"config", "params.yaml"' in source
    # each process its Fast DDS profile: UDP for the nodes that read images (docs/ROS.md)
    assert "additional_env=shipped_dds_profile_environment(executable in IMAGE_READING_NODES," in source
    try:
        from launch import LaunchContext, LaunchDescription  # the repository's launch/ directory is no such package
    except ImportError:
        pytest.skip("the `launch` package is not installed (not on PyPI); the launch file was checked as source")
    spec = importlib.util.spec_from_file_location("bringup_launch", ROOT / "launch" / "bringup.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    context = LaunchContext()
    for entity in description.entities:
        if hasattr(entity, "default_value"):
            context.launch_configurations[entity.name] = "".join(s.perform(context) for s in entity.default_value)
    (opaque,) = [entity for entity in description.entities if type(entity).__name__ == "OpaqueFunction"]
    nodes = opaque.execute(context)
    executables = [entity.node_executable for entity in nodes if hasattr(entity, "node_executable")]
    assert tuple(executables) == NODE_EXECUTABLES[:4]  # speech_node with speak:=true


def test_a_parameter_file_for_the_plain_node_names_applies_under_any_namespace(tmp_path):
    """What the launch file gives each node: params.yaml, then the user's sections for every node ("/**"),
    for its plain, namespaced or wildcard name; sections that name no node are reported."""
    from emotion_ros.config import node_params, unknown_node_names

    mine = tmp_path / "mine.yaml"
    mine.write_text("face_detection_node:\n  ros__parameters:\n    min_confidence: 0.7\n"
                    "/head/social_response_node:\n  ros__parameters:\n    language: fr\n"
                    "/**/emotion_classifier_node:\n  ros__parameters:\n    ensemble: true\n"
                    "/**:\n  ros__parameters:\n    image_transport: compressed\n"
                    "face_detector:\n  ros__parameters:\n    detector: haar\n")
    detector = node_params("face_detection_node", mine)
    assert detector["min_confidence"] == 0.7 and detector["detector"] == "blazeface_stream"
    assert detector["image_transport"] == "compressed"
    assert node_params("social_response_node", mine)["language"] == "fr"
    assert node_params("emotion_classifier_node", mine)["ensemble"] is True
    assert node_params("camera_node")["source"] == "0"  # params.yaml alone
    assert "image_transport" not in node_params("social_response_node", mine)  # "/**" sets what a node has
    assert unknown_node_names(mine) == ["face_detector"]


def test_message_labels_are_the_class_list():
    emotion_msg = (ROOT / "msg" / "Emotion.msg").read_text()
    constants = re.findall(r"^string [A-Z]+=(\w+)$", emotion_msg, re.M)
    assert tuple(constants) == CLASSES


def test_generated_message_constants_match_the_class_list():
    msg = pytest.importorskip("emotion_ros.msg", reason="messages are built by colcon (make setup)")
    assert tuple(getattr(msg.Emotion, name.upper()) for name in CLASSES) == CLASSES


def test_core_and_cli_work_without_rclpy_and_tensorflow(tmp_path):
    """What `pip install .` gives: the photo pipeline (BlazeFace) and the command, with rclpy, TensorFlow,
    Keras and MTCNN impossible to import."""
    import subprocess
    import sys

    from emotion_ros.apps.samples import sample_photos

    script = (
        "import sys\n"
        "for name in ('rclpy', 'tensorflow', 'keras', 'mtcnn'):\n"
        "    sys.modules[name] = None  # any import of it now raises ImportError\n"
        "from emotion_ros.apps.cli import main\n"
        f"main(['analyze', {str(sample_photos()[0])!r}, '--out', {str(tmp_path)!r}])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "6 face(s)" in result.stdout


def test_pip_install_brings_no_tensorflow_unless_asked():
    setup_call = next(node for node in ast.walk(ast.parse((ROOT / "setup.py").read_text()))
                      if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup")
    arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in setup_call.keywords
                 if keyword.arg in ("install_requires", "extras_require")}
    assert not {"tensorflow", "tensorflow-cpu", "mtcnn", "keras"} & set(arguments["install_requires"])
    assert "tensorflow-cpu" in arguments["extras_require"]["mtcnn"] and "mtcnn" in arguments["extras_require"]["mtcnn"]
    assert "tensorflow-cpu" in arguments["extras_require"]["train"]


def test_shipped_parameter_files_are_found_from_any_folder_and_huge_files_refused(tmp_path, monkeypatch):
    from emotion_ros.config import MAX_PARAMS_FILE_BYTES, params_file, read_params_file

    monkeypatch.chdir(tmp_path)
    assert params_file("config/photos.yaml").read_text() == (ROOT / "config" / "photos.yaml").read_text()
    mine = tmp_path / "config" / "photos.yaml"  # a file of one's own of that name comes first
    mine.parent.mkdir()
    mine.write_text("camera_node:\n  ros__parameters:\n    fps: 1.0\n")
    assert params_file("config/photos.yaml") == mine.relative_to(tmp_path)
    with pytest.raises(FileNotFoundError, match="parameter file not found: other/photos.yaml"):
        read_params_file(params_file("other/photos.yaml"))
    huge = tmp_path / "huge.yaml"
    huge.write_text("#" * (MAX_PARAMS_FILE_BYTES + 1))
    with pytest.raises(ValueError, match="more than a parameter file's"):
        read_params_file(huge)
