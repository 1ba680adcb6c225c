"""LiteRT interpreters, created without the line that the XNNPACK delegate's native code writes to stderr
("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") past Python's logging."""

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 sent to /dev/null while the block runs: native libraries write there directly."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def litert_interpreter(path, num_threads=1):
    """A LiteRT interpreter of the .tflite file `path`, its tensors allocated (when XNNPACK announces itself)."""
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr_silenced():
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    return interpreter
