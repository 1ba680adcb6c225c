"""speech_node: says the head's questions aloud (espeak-ng), one at a time, and publishes each on `speech`
as it starts saying it."""

import time

from rclpy.node import Node
from std_msgs.msg import String

from ..social.speech import VOICES, Voice
from .common import NodeHealth, between, declare_parameters, one_of, spin_node

PARAMETERS = {
    "language": "language the questions are said in: en or fr (as social_response_node's language)",
    "rate": "speaking rate in words per minute",
    "wav_dir": "empty: say the questions on the sound device; a folder: write each as a numbered WAV file there "
               "instead (a robot without speakers, a test)",
}
CHECKS = {"language": one_of(*VOICES), "rate": between(80, 450)}


class SpeechNode(Node):
    def __init__(self, **kwargs):
        super().__init__("speech_node", **kwargs)
        self.params = declare_parameters(self, "speech_node", PARAMETERS, CHECKS)
        self.speech_publisher = self.create_publisher(String, "speech", 10)
        self.health = NodeHealth(self, {"voice": VOICES[self.params.language]}, expects_input=False)
        self.voice = Voice(self.params.language, self.params.rate, self.params.wav_dir or None,
                           on_speak=self.on_speak, on_error=self.on_error)
        self.create_subscription(String, "question", self.on_question, 10)
        self.get_logger().info(f"saying questions in {self.params.language}"
                               + (f" into {self.params.wav_dir}" if self.params.wav_dir else ""))

    def on_question(self, msg):
        self.health.input()
        self.voice.say(msg.data)

    def on_speak(self, text):
        self.speech_publisher.publish(String(data=text))
        self.health.output(time.monotonic())

    def on_error(self, message):
        self.get_logger().warning(message, throttle_duration_sec=10.0)
        self.health.skip(message)

    def destroy_node(self):
        self.voice.close()
        return super().destroy_node()


def main(args=None):
    spin_node(SpeechNode, args)


if __name__ == "__main__":
    main()
