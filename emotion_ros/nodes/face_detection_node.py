"""face_detection_node: finds the faces of the newest frame on `image_raw`, publishes them on `faces`."""

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image

from ..msg import Face, FaceArray
from ..vision.boxes import left_to_right
from ..vision.detectors import detector_from_params
from ..vision.images import image_from_msg
from ..vision.tracking import FaceTracker
from .common import IMAGE_RELIABILITY_DESCRIPTION, declare_parameters, image_qos, roi_msg, spin_node, stamp_seconds

PARAMETERS = {
    "detector": "face detector: haar_stream (live video, tracks between scans), mtcnn (photos, small or "
                "turned faces) or haar (frontal faces, whole frame every time)",
    "min_face_size": "smallest face reported, in pixels",
    "min_confidence": "MTCNN faces below this confidence are dropped",
    "detect_every": "haar_stream: scan the whole frame every N frames, search near known faces in between",
    "track_faces": "give each face a face_id that stays the same across frames (live video); "
                   "false numbers the faces of each image face_0, face_1, ... left to right (photos)",
    "max_missed_seconds": "a tracked face missing longer than this gets a new face_id when it comes back",
    "reliable_images": IMAGE_RELIABILITY_DESCRIPTION,
}


class FaceDetectionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("face_detection_node", **kwargs)
        self.params = declare_parameters(self, PARAMETERS)
        self.detector = detector_from_params(vars(self.params))
        self.detector(np.full((120, 160, 3), 128, np.uint8))  # load lazily built graphs before the first frame
        self.tracker = FaceTracker(self.params.max_missed_seconds) if self.params.track_faces else None
        self.publisher = self.create_publisher(FaceArray, "faces", 10)
        self.create_subscription(Image, "image_raw", self.on_image, image_qos(self.params.reliable_images))
        self.get_logger().info(f"detecting faces with {self.params.detector}")

    def on_image(self, msg):
        try:
            detections = self.detector(image_from_msg(msg))
        except ValueError as error:
            self.get_logger().warning(f"skipping image {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}: {error}")
            return
        detections = left_to_right(detections)
        if self.tracker is None:
            face_ids = [f"face_{index}" for index in range(len(detections))]
        else:
            face_ids = self.tracker.update([d.box for d in detections], stamp_seconds(msg.header))
        faces = [
            Face(face_id=face_id, roi=roi_msg(d.box), confidence=d.confidence)
            for d, face_id in zip(detections, face_ids)
            if face_id
        ]
        self.publisher.publish(FaceArray(header=msg.header, faces=faces))


def main(args=None):
    spin_node(FaceDetectionNode, args)
