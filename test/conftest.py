"""What the tests share: an isolated DDS domain, an executor that cleans up, waiting on conditions, and
interrupting a command."""

import os
import signal
import subprocess
import sys
import time

import pytest

# A domain of this test process only, so that tests running beside it cannot inject messages.
DOMAIN_ID = 1 + os.getpid() % 100


def spin_until(executor, condition, timeout=60.0):
    """Spins until `condition()` holds; False after `timeout` seconds, generous for a loaded machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        executor.spin_once(timeout_sec=0.05)
    return True


def spin_for(executor, seconds):
    spin_until(executor, lambda: False, timeout=seconds)


def start(executor, *nodes):
    for node in nodes:
        executor.add_node(node)
    return nodes


@pytest.fixture
def executor():
    """A single-threaded executor whose nodes are destroyed after the test."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor()
    yield executor
    for node in executor.get_nodes():
        executor.remove_node(node)
        node.destroy_node()
    executor.shutdown()


def interrupted(command, after, signum=signal.SIGINT):
    """Run `emotion-ros COMMAND...`, send `signum` `after` seconds into its work; its exit code and stderr.

    Ctrl-C (SIGINT) reaches a command in a terminal's foreground, where SIGINT is not ignored; SIGTERM goes to one
    started as a script's background job (`emotion-ros ... &`), which inherits SIGINT ignored: whatever started
    the tests, each signal meets the command as it would there. The seconds count from the moment the command
    handles SIGTERM (its `main()` is running), so a loaded machine's slow start does not shorten them."""
    sigint_disposition = signal.SIG_DFL if signum == signal.SIGINT else signal.SIG_IGN
    process = subprocess.Popen([sys.executable, "-m", "emotion_ros.apps.cli", *command], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, sigint_disposition))
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and not _catches(process.pid, signal.SIGTERM) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(after)
        process.send_signal(signum)
        _, errors = process.communicate(timeout=60)
    finally:
        process.kill()  # one that did not stop must not run on after the test
    return process.returncode, errors


def _catches(pid, signum):
    """Whether process `pid` has a handler for `signum` (Linux: the SigCgt mask of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    return bool(caught >> (signum - 1) & 1)
