"""What the ROS tests share: an isolated DDS domain, an executor that cleans up, and waiting on conditions."""

import os
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
