"""The ROS 2 nodes, one per module, thin: parameters, subscriptions, message conversion, one call into
vision or social. Also what they share (common), their frame sources and the one-process bringup.

May import: vision, social, the top-level basics, rclpy and the generated messages. Never model
(TensorFlow stays out of the nodes' processes).
"""
