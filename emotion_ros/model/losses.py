"""The class-balanced loss: cross-entropy with the class prior added to the logits (logit adjustment).

Menon et al., "Long-tail learning via logit adjustment" (ICLR 2021): training on log p + tau * log prior
makes the network's own scores estimate each class as if all seven were equally frequent, so rare classes
(disgust, fear) are not traded for the frequent ones (happy, neutral) at inference.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emotion_ros")
class LogitAdjustedCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy of the softmax scores shifted by `tau` * log(`prior`), with label smoothing."""

    def __init__(self, prior, tau=1.0, label_smoothing=0.1, name="logit_adjusted_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.prior, self.tau, self.label_smoothing = [float(p) for p in prior], float(tau), float(label_smoothing)

    def call(self, y_true, y_pred):
        log_prior = ops.log(ops.convert_to_tensor(self.prior, dtype=y_pred.dtype))
        logits = ops.log(ops.clip(y_pred, 1e-7, 1.0)) + self.tau * log_prior
        log_adjusted = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
        classes = len(self.prior)
        y_true = ops.cast(y_true, y_pred.dtype) * (1 - self.label_smoothing) + self.label_smoothing / classes
        return -ops.sum(y_true * log_adjusted, axis=-1)

    def get_config(self):
        return {**super().get_config(), "prior": self.prior, "tau": self.tau,
                "label_smoothing": self.label_smoothing}


def training_loss(prior=None, tau=0.0):
    """The loss of both trainings: plain cross-entropy, or logit-adjusted with `tau` > 0."""
    if tau:
        return LogitAdjustedCrossentropy(prior, tau)
    return keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
