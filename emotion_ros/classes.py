"""The emotion classes, defined once for the messages, the model and every plot.

The order is FER2013's label order, so a dataset label indexes this tuple directly.
"""

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
