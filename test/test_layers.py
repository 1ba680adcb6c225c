"""The package's layers, read from the source: imports go one way (apps -> nodes, bags -> vision, social,
model -> top-level basics), the core never imports rclpy or TensorFlow at import time, and the nodes never
import the model-training code."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emotion_ros"
SUBPACKAGES = ("vision", "social", "nodes", "bags", "model", "apps")
BASICS = ("classes", "results", "config", "paths")
# What each layer may import inside the package, besides itself and the basics.
ALLOWED = {
    "api": {"vision"},  # emotion_ros/__init__.py: CLASSES, EmotionClassifier, analyze_image, analyze_video
    "basics": set(),
    "vision": set(),
    "social": set(),
    "model": {"vision"},
    "nodes": {"vision", "social", "msg"},
    "bags": {"vision", "nodes", "msg"},
    "apps": {"vision", "social", "nodes", "bags", "model", "msg"},
}
ROS_OR_TENSORFLOW = ("rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "builtin_interfaces", "tensorflow", "keras",
                     "mtcnn")


def modules():
    return sorted(path for path in PACKAGE.rglob("*.py"))


def layer_of(path):
    parts = path.relative_to(PACKAGE).parts
    if parts == ("__init__.py",):
        return "api"
    return parts[0] if len(parts) > 1 else "basics"


def imports(path, top_level_only=False):
    """(module, is_at_import_time) of every import in the file, relative imports made absolute."""
    tree = ast.parse(path.read_text())
    package = ".".join(("emotion_ros", *path.relative_to(PACKAGE).parts[:-1]))
    at_import_time = set(id(node) for node in tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        else:
            continue
        for name in names:
            yield name, id(node) in at_import_time


def internal_layer(module):
    parts = module.split(".")
    if parts[0] != "emotion_ros" or len(parts) == 1:
        return None
    return parts[1] if parts[1] in SUBPACKAGES or parts[1] == "msg" else "basics"


def test_every_module_is_in_a_layer_and_every_subpackage_says_what_it_may_import():
    top_level = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert top_level == set(BASICS)
    for name in SUBPACKAGES:
        docstring = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert docstring and "May import" in docstring, name


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_go_one_way(path):
    layer = layer_of(path)
    for module, _ in imports(path):
        target = internal_layer(module)
        if target in (None, layer, "basics"):
            continue
        assert target in ALLOWED[layer], f"{layer} may not import {module}"


@pytest.mark.parametrize("path", [p for p in modules() if layer_of(p) in ("api", "basics", "vision", "social")],
                         ids=lambda path: str(path.relative_to(PACKAGE)))
def test_core_imports_neither_ros_nor_tensorflow_at_import_time(path):
    for module, at_import_time in imports(path):
        if at_import_time:
            assert module.split(".")[0] not in ROS_OR_TENSORFLOW, f"{path.name} imports {module} at import time"


def test_nodes_never_import_the_model_code():
    for path in (PACKAGE / "nodes").rglob("*.py"):
        for module, _ in imports(path):
            assert internal_layer(module) != "model", f"{path.name} imports {module}"


def test_no_import_cycles_between_modules():
    graph = {}
    for path in modules():
        name = ".".join(("emotion_ros", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        graph[name] = set()
        for module, at_import_time in imports(path):
            if at_import_time and module.startswith("emotion_ros.") and not module.startswith("emotion_ros.msg"):
                graph[name].add(module)
    known = set(graph)

    def resolve(module):  # `from . import x` names a module or a package
        return module if module in known else module.rsplit(".", 1)[0]

    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(resolve(m) for m in graph.get(node, ())):
            if target == node or target not in known or target.startswith(node + "."):
                continue
            assert state.get(target) != "open", "import cycle: " + " -> ".join(trail + [target])
            if target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(known):
        if node not in state:
            visit(node, [node])
