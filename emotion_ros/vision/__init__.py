"""Seeing faces: image checks and conversion, face detectors, face alignment, the emotion classifier,
tracking, smoothing, the photo and stream pipelines, and drawing the results.

May import: the top-level basics (classes, results, paths, config) and itself. Never rclpy, and never
TensorFlow at import time (MTCNN loads it when asked for); BlazeFace and the classifier run on LiteRT.
"""
