"""The robot head: prompt tables (emoji and questions per emotion and language), the policy that decides
what to show and ask, and emoji pictures.

May import: the top-level basics and itself. No ROS, no vision: the policy takes FaceEmotion results.
"""
