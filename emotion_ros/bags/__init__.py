"""rosbag2 files of photos and emotions: reading and writing (bag_io), replaying them on ROS topics
(player) and the `emotion-ros bag` sub-commands.

May import: vision, nodes, the top-level basics. Never model.
"""
