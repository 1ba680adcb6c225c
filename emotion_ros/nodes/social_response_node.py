"""social_response_node: turns `emotions` into the robot head's emoji (text and picture) and questions."""

import time

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String

from ..msg import EmotionArray, SocialResponse
from ..results import FaceEmotion
from ..social.emoji import render_emoji
from ..social.policy import SocialResponsePolicy
from ..social.prompts import SHIPPED_LANGUAGES, load_prompts
from .common import (LATCHED_QOS, Check, NodeHealth, between, box_from_roi, declare_parameters, image_msg, spin_node,
                     stamp_seconds)

PARAMETERS = {
    "language": "language of the shipped prompt table: en or fr",
    "prompts_file": "path of a user prompt table (YAML, see config/prompts_en.yaml); overrides language when set",
    "dwell_time": "seconds an emotion must hold on the main face before its emoji shows (0 for photos)",
    "question_cooldown": "seconds to wait after a question before asking another",
    "idle_timeout": "seconds without any face before the idle emoji shows",
    "face_lost_timeout": "seconds the followed face may be missing before another face is followed",
    "emoji_image_size": "side in pixels of the emoji picture published on emoji/image",
    "follow_face": "keep attending to the same face_id while it stays in view (live video); false takes the "
                   "largest face of every image (unrelated photos, whose ids restart at face_0)",
}
CHECKS = {
    "language": Check(f"one of {', '.join(SHIPPED_LANGUAGES)} (prompts_file takes a table of your own)",
                      lambda value: value in SHIPPED_LANGUAGES),
    "dwell_time": between(0.0, 60.0),
    "question_cooldown": between(0.0, 3600.0),
    "idle_timeout": between(0.0, 3600.0),
    "face_lost_timeout": between(0.0, 60.0),
    "emoji_image_size": between(16, 1024),
}
LIVE = tuple(PARAMETERS)  # every one is applied to the policy at once


# Seconds between two checks for silence on `emotions`.
SILENCE_CHECK_PERIOD = 0.5
# The head attends to one face: of a larger EmotionArray only this many, the largest, are looked at.
MAX_EMOTIONS_PER_MESSAGE = 100


def faces_from_msg(msg):
    emotions = msg.emotions
    if len(emotions) > MAX_EMOTIONS_PER_MESSAGE:
        emotions = sorted(emotions, key=lambda e: -e.roi.width * e.roi.height)[:MAX_EMOTIONS_PER_MESSAGE]
    return [
        FaceEmotion(
            box=box_from_roi(emotion.roi),
            label=emotion.label,
            confidence=emotion.confidence,
            scores=dict(zip(msg.classes, emotion.scores)),
            face_id=emotion.face_id,
        )
        for emotion in emotions
    ]


class SocialResponseNode(Node):
    def __init__(self, **kwargs):
        super().__init__("social_response_node", **kwargs)
        self.params = declare_parameters(self, "social_response_node", PARAMETERS, CHECKS, LIVE)
        self.policy = SocialResponsePolicy(
            self.checked_prompts(self.params.prompts_file or self.params.language),
            dwell_time=self.params.dwell_time,
            idle_timeout=self.params.idle_timeout,
            face_lost_timeout=self.params.face_lost_timeout,
            question_cooldown=self.params.question_cooldown,
            follow_face=self.params.follow_face,
        )
        self.emoji_publisher = self.create_publisher(String, "emoji", LATCHED_QOS)
        self.emoji_image_publisher = self.create_publisher(Image, "emoji/image", LATCHED_QOS)
        self.question_publisher = self.create_publisher(String, "question", 10)
        self.response_publisher = self.create_publisher(SocialResponse, "social_response", 10)
        self.emoji_images = {}  # emoji -> rendered BGR picture
        self.create_subscription(EmotionArray, "emotions", self.on_emotions, 10)
        # STALE on /diagnostics when no EmotionArray came for a while (the classifier stopped or died)
        self.health = NodeHealth(self)
        self.last_message = None  # (stamp in seconds, header, time.monotonic()) of the last EmotionArray
        self.create_timer(SILENCE_CHECK_PERIOD, self.check_silence)
        self.add_on_set_parameters_callback(self.check_prompts)
        self.add_post_set_parameters_callback(self.apply_parameters)
        self.get_logger().info(f"answering in {self.policy.prompts.language}")

    def check_prompts(self, parameters):
        """A new language or prompts file is loaded before it is accepted: a broken table is refused."""
        values = {parameter.name: parameter.value for parameter in parameters}
        language = values.get("language", self.params.language)
        prompts_file = values.get("prompts_file", self.params.prompts_file)
        if ("language" in values or "prompts_file" in values) and (prompts_file or language in SHIPPED_LANGUAGES):
            try:
                self._new_prompts = self.checked_prompts(prompts_file or language)
            except (OSError, ValueError) as error:
                return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)  # an unknown language is refused by its CHECKS entry

    @staticmethod
    def checked_prompts(source):
        """The prompt table of `source`, each of its emoji drawn once: one the font cannot draw is refused
        here, not at the first face that shows it."""
        prompts = load_prompts(source)
        for emoji in (prompts.idle_emoji, *prompts.emoji.values()):
            try:
                render_emoji(emoji, size=16)
            except ValueError as error:
                raise ValueError(f"{prompts.source}: {error}") from None
        return prompts

    def apply_parameters(self, parameters):
        for parameter in parameters:
            if parameter.name in ("language", "prompts_file"):
                self.policy.prompts, self.policy.idle_emoji = self._new_prompts, self._new_prompts.idle_emoji
            elif parameter.name == "emoji_image_size":
                self.emoji_images.clear()
            else:
                setattr(self.policy, parameter.name, parameter.value)

    def on_emotions(self, msg):
        started = time.monotonic()
        self.health.input()
        try:
            response = self.policy.update(stamp_seconds(msg.header), faces_from_msg(msg))
        except ValueError as error:
            self.get_logger().warning(f"skipping emotions of {stamp_seconds(msg.header):.3f}: {error}")
            self.health.skip(error)
            return
        self.last_message = (stamp_seconds(msg.header), msg.header, started)
        self.health.output(started)
        self.publish(response, msg.header)

    def check_silence(self):
        """No EmotionArray for `idle_timeout`: nobody is seen any more (the camera or a node upstream stopped),
        so the head goes idle as it would with empty arrays, at the stamp the silence has reached."""
        if self.last_message is None:
            return
        stamp, header, received = self.last_message
        silent = time.monotonic() - received
        if silent < max(self.params.idle_timeout, SILENCE_CHECK_PERIOD):
            return
        now = stamp + silent
        response = self.policy.update(now, [])
        header = Header(frame_id=header.frame_id, stamp=Time(sec=int(now), nanosec=int(now % 1 * 1e9)))
        self.publish(response, header)

    def publish(self, response, header):
        if response.emoji_changed:
            self.emoji_publisher.publish(String(data=response.emoji))
            self.emoji_image_publisher.publish(image_msg(self.emoji_image(response.emoji), header))
        if response.question:
            self.question_publisher.publish(String(data=response.question))
        if response.emoji_changed or response.question:
            self.response_publisher.publish(
                SocialResponse(
                    header=header,
                    emoji=response.emoji,
                    emotion=response.emotion,
                    face_id=response.face_id,
                    question=response.question or "",
                    language=response.language,
                )
            )

    def emoji_image(self, emoji):
        if emoji not in self.emoji_images:
            self.emoji_images[emoji] = render_emoji(emoji, self.params.emoji_image_size)
        return self.emoji_images[emoji]


def main(args=None):
    spin_node(SocialResponseNode, args)


if __name__ == "__main__":
    main()
