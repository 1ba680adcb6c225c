"""The emotion CNN's life before it ships: datasets, augmentation, training on CPU and GPU, evaluation
and export. Keras and TensorFlow are imported here only, and only inside the functions that need them.

May import: vision (the classifier's input size, to evaluate the exported model) and the top-level
basics. Nothing outside apps imports it.
"""
