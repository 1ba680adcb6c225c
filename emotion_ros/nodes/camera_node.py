"""camera_node: publishes frames of a camera, a video file or a directory of photos on `image_raw`."""

from collections import OrderedDict

from rclpy.node import Node
from std_msgs.msg import Header

from .common import (
    IMAGE_TRANSPORT,
    IMAGE_TRANSPORT_DESCRIPTION,
    NodeHealth,
    between,
    compressed_image_msg,
    declare_parameters,
    image_msg,
    image_topic,
    spin_node,
)
from .sources import FrameSource

PARAMETERS = {
    "source": "camera index (0), /dev/videoN, a video file or a directory of photos",
    "frame_id": "frame_id written into every image header",
    "fps": "frames per second published (a camera may deliver fewer)",
    "width": "requested camera width in pixels; 0 keeps the device's (files keep their size)",
    "height": "requested camera height in pixels; 0 keeps the device's",
    "loop": "start a video or photo directory again at its end",
    "retry_period": "seconds between attempts to open a missing or unplugged camera",
    "image_transport": IMAGE_TRANSPORT_DESCRIPTION + "; what this node publishes",
}
CHECKS = {"fps": between(0.01, 240.0), "width": between(0, 7680), "height": between(0, 4320),
          "retry_period": between(0.1, 3600.0), "image_transport": IMAGE_TRANSPORT}
LIVE = ("frame_id",)  # the others shape the source or the timer
PHOTO_NAMES_KEPT = 100  # names of the last photos published, by stamp


class CameraNode(Node):
    def __init__(self, **kwargs):
        super().__init__("camera_node", **kwargs)
        self.source = None
        self.params = declare_parameters(self, "camera_node", PARAMETERS, CHECKS, LIVE)
        self.source = FrameSource(
            self.params.source, self.params.width, self.params.height, self.params.loop, self.params.retry_period
        )
        self.publisher = self.create_publisher(*image_topic(self, self.params.image_transport), 10)
        self.to_msg = compressed_image_msg if self.params.image_transport == "compressed" else image_msg
        self._last_status = ""
        self.frames_published = 0
        # (sec, nanosec) stamp -> file name of the photos published last, so that results can keep their names
        self.photo_names = OrderedDict()
        self.timer = self.create_timer(1.0 / self.params.fps, self.publish_frame)
        self.health = NodeHealth(self, {"source": f"{self.source.kind} {self.source.target}"}, expects_input=False)
        self.get_logger().info(f"publishing {self.source.kind} {self.source.target} at {self.params.fps:g} fps")

    def publish_frame(self):
        if self.source.kind != "camera" and self.publisher.get_subscription_count() == 0:
            return  # a file is not live: keep its first frame until someone listens
        frame = self.source.read()
        if self.source.status != self._last_status:
            self._last_status = self.source.status
            if self._last_status:
                log = self.get_logger().info if self.source.finished else self.get_logger().warning
                log(self._last_status)
            self.health.problem = "" if self.source.finished else self._last_status
        if frame is None:
            return
        self.health.input()
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.params.frame_id)
        self.publisher.publish(self.to_msg(frame, header))
        self.frames_published += 1
        if self.source.kind == "photos":
            self.photo_names[(header.stamp.sec, header.stamp.nanosec)] = self.source.last_photo.name
            while len(self.photo_names) > PHOTO_NAMES_KEPT:
                self.photo_names.popitem(last=False)
        self.health.output()

    def destroy_node(self):
        if self.source is not None:  # None when the source could not be opened
            self.source.release()
        super().destroy_node()


def main(args=None):
    spin_node(CameraNode, args)


if __name__ == "__main__":
    main()
