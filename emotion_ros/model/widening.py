"""Widening a trained network without changing what it computes (Net2WiderNet, Chen et al. 2016).

A wider network trained from scratch takes about eleven hours of two CPU cores; widened from the shipped one it
starts where that one is and only needs the epochs that use its new filters.
"""

import numpy as np


def network_width(network):
    """The filters of the first convolution of a `build_model()` network."""
    return _layers_of(network, "Conv2D")[0].filters


def widen_network(network, width, noise=0.01, seed=0):
    """A `build_model(width=width)` network computing what `network` (narrower, same architecture) computes.

    Every new filter copies one of its layer's filters, chosen at random, and the layer after it divides that
    filter's outgoing weights among the copies, so each layer's output is unchanged. Copies would receive the
    same gradients forever; `noise` (a fraction of each kernel's standard deviation) added to the copies'
    incoming weights lets them drift apart, and changes the outputs by about as much.
    """
    from .training import build_model

    old_width = network_width(network)
    if width < old_width:
        raise ValueError(f"cannot narrow a network: it is {old_width} filters wide, asked for {width}")
    wide = build_model(num_classes=network.output_shape[-1], width=width)
    rng = np.random.default_rng(seed)
    old_units = _layers_of(network, "Conv2D") + _layers_of(network, "Dense")
    new_units = _layers_of(wide, "Conv2D") + _layers_of(wide, "Dense")
    old_norms, new_norms = _layers_of(network, "BatchNormalization"), _layers_of(wide, "BatchNormalization")
    if len(old_units) != len(new_units) or len(old_norms) != len(new_norms):
        raise ValueError("the network is not a build_model() network: its layers differ from a wider one's")

    source = None  # for each input channel of the current layer, the old channel it copies
    for index, (old, new) in enumerate(zip(old_units, new_units)):
        kernel = old.get_weights()[0]
        if source is not None:
            copies = np.bincount(source, minlength=kernel.shape[-2])
            kernel = kernel[..., source, :] / copies[source][:, None]
        outputs = new.get_weights()[0].shape[-1]
        last = index == len(old_units) - 1
        if last:
            targets = np.arange(outputs)
        else:
            targets = np.concatenate([np.arange(kernel.shape[-1]),
                                      rng.integers(0, kernel.shape[-1], outputs - kernel.shape[-1])])
        widened = kernel[..., targets].copy()
        copied = np.arange(outputs) >= kernel.shape[-1]
        widened[..., copied] += noise * kernel.std() * rng.standard_normal(widened[..., copied].shape)
        new.set_weights([widened.astype(np.float32)] + old.get_weights()[1:])
        if not last:
            old_norm, new_norm = old_norms[index], new_norms[index]
            new_norm.set_weights([weights[targets] for weights in old_norm.get_weights()])
        source = targets
    return wide


def _layers_of(network, kind):
    return [layer for layer in network.layers if type(layer).__name__ == kind]
