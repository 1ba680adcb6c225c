"""The emotion classes, defined once for the messages, the model and every plot.

The order is FER2013's label order, so a dataset label indexes this tuple directly.
"""

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Approximate places of the seven categories on Russell's circumplex (valence, arousal), each in [-1, 1].
# Valence/arousal published with an emotion are the probability-weighted mean of these points: a
# summary of the class scores for behaviours that want a continuous signal, not a trained regressor.
CIRCUMPLEX = {
    "angry": (-0.6, 0.7),
    "disgust": (-0.7, 0.3),
    "fear": (-0.6, 0.8),
    "happy": (0.8, 0.5),
    "sad": (-0.7, -0.4),
    "surprise": (0.3, 0.8),
    "neutral": (0.0, 0.0),
}
