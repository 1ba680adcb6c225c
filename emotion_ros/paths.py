"""Where the shipped config files are (colcon install, pip install or source checkout alike), and outputs
written whole or not at all."""

import contextlib
import os
from pathlib import Path

PACKAGE_NAME = "emotion_ros"
PACKAGE_DIR = Path(__file__).resolve().parent  # the shipped weights are in PACKAGE_DIR/weights


def _candidate_config_dirs():
    """The places config/ can be, in the order ROS users expect: the installed share directory first."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        share = get_package_share_directory(PACKAGE_NAME, print_warning=False)
        candidates.append(Path(share) / "config")
    except (ImportError, LookupError, OSError, ValueError):
        pass  # not sourced, not installed with colcon, or ament not available: use the Python locations
    candidates.append(PACKAGE_DIR.parent / "config")  # source checkout
    candidates.append(PACKAGE_DIR / "config")  # copy installed inside the Python package
    return candidates


def config_dir():
    """The first existing config directory."""
    candidates = _candidate_config_dirs()
    for directory in candidates:
        if directory.is_dir():
            return directory
    searched = ", ".join(str(directory) for directory in candidates)
    raise FileNotFoundError(f"no config directory for {PACKAGE_NAME}; searched: {searched}")


def config_path(name):
    """The shipped config file `name`, looked up in every config directory so a stale install still works."""
    candidates = _candidate_config_dirs()
    for directory in candidates:
        path = directory / name
        if path.is_file():
            return path
    searched = ", ".join(str(directory) for directory in candidates)
    raise FileNotFoundError(f"config file {name!r} of {PACKAGE_NAME} not found; searched: {searched}")


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path beside `path` (same suffix, so writers pick the same format) that becomes
    `path` when the block ends normally and is removed when it does not: an interrupted or failed run leaves
    the whole output or none. `path` None yields None."""
    if path is None:
        yield None
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
