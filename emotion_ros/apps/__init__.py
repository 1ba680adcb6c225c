"""What people run: the `emotion-ros` command, the webcam window, the benchmark and the sample files.

May import anything in the package; nothing in the package imports apps.
"""
