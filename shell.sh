# After `make setup`, run `. ./shell.sh` in the repository: this shell then has the virtualenv (emotion-ros,
# rclpy and the ROS 2 Kilted wheels) and the package's colcon install (its messages; `ros2 run` and
# `ros2 launch` where the ROS 2 command line is installed). The Makefile's targets use it too.
venv="$PWD/.venv"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$PWD/install/setup.sh" ]; then
    echo "shell.sh: run 'make setup' first, and source this file from the repository's folder" >&2
    return 1 2>/dev/null || exit 1
fi
. "$venv/bin/activate"
export CMAKE_PREFIX_PATH="$venv" AMENT_PREFIX_PATH="$venv"
. "$PWD/install/setup.sh"
export AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH:$venv"
unset venv
