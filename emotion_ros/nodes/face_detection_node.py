"""face_detection_node: finds the faces of the newest frame on `image_raw`, publishes them on `faces`.

A lifecycle node: the detector loads on configure, images are processed while active (the subscription
exists only then, so an inactive node costs no CPU); `~/enable` (std_srvs/SetBool) pauses and resumes
detection without a transition, as yolo_ros's enable does.
"""

import time

import numpy as np
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from std_srvs.srv import SetBool

from ..msg import FaceArray
from ..vision.boxes import left_to_right
from ..vision.detectors import detect_faces, detector_from_params
from ..vision.images import decode_image
from ..vision.tracking import FaceTracker
from .common import (
    AUTOSTART_DESCRIPTION,
    IMAGE_RELIABILITY,
    IMAGE_RELIABILITY_DESCRIPTION,
    IMAGE_TRANSPORT,
    IMAGE_TRANSPORT_DESCRIPTION,
    ImageSubscription,
    NodeHealth,
    StampGapCounter,
    between,
    declare_parameters,
    face_msg,
    refused_transition,
    spin_node,
    stamp_seconds,
    start_lifecycle,
)

PARAMETERS = {
    "detector": "face detector: blazeface_stream (live video, follows faces between scans), blazeface (photos, "
                "every face of each image), mtcnn (photos, needs TensorFlow) or haar (frontal faces only, "
                "needs no model file)",
    "min_face_size": "smallest face reported, in pixels",
    "min_confidence": "faces below this detector confidence are dropped (BlazeFace and MTCNN)",
    "detect_every": "blazeface_stream: scan the whole frame every N frames, search near known faces in between",
    "track_faces": "give each face a face_id that stays the same across frames (live video); "
                   "false numbers the faces of each image face_0, face_1, ... left to right (photos)",
    "max_missed_seconds": "a tracked face missing longer than this gets a new face_id when it comes back",
    "image_reliability": IMAGE_RELIABILITY_DESCRIPTION,
    "image_transport": IMAGE_TRANSPORT_DESCRIPTION,
    "max_faces": "at most this many faces per image, the largest first, so that a crowd cannot stall the pipeline",
    "max_image_side": "images with a longer side than this (pixels) are searched on a scaled-down copy; boxes "
                      "stay in the image's pixels",
    "autostart": AUTOSTART_DESCRIPTION,
}
CHECKS = {
    "min_face_size": between(1, 4096),
    "min_confidence": between(0.0, 1.0),
    "detect_every": between(1, 1000),
    "max_missed_seconds": between(0.0, 60.0),
    "max_faces": between(1, 1000),
    "max_image_side": between(64, 8192),
    "image_transport": IMAGE_TRANSPORT,
    "image_reliability": IMAGE_RELIABILITY,
}
LIVE = ("min_face_size", "min_confidence", "max_faces", "max_image_side")  # the others build the detector,
# the tracker or the subscription
# Seconds between two warnings about images missing from image_raw.
GAP_WARNING_PERIOD = 10.0


class FaceDetectionNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("face_detection_node", **kwargs)
        self.params = declare_parameters(self, "face_detection_node", PARAMETERS, CHECKS, LIVE)
        self.detector = self.tracker = self.publisher = self.images = None
        self.enabled = True
        self.lifecycle_error = ""
        self.health = NodeHealth(self, {"detector": self.params.detector})
        self.health.state = "unconfigured"
        self.create_service(SetBool, "~/enable", self.on_enable)
        self.add_post_set_parameters_callback(self.apply_parameters)
        start_lifecycle(self)

    def on_configure(self, state):
        try:
            self.detector = detector_from_params(vars(self.params))
            if self.params.detector == "mtcnn":  # build TensorFlow's graphs now, not on the first frame
                self.detector(np.full((120, 160, 3), 128, np.uint8))
        except (ValueError, OSError, ImportError) as error:
            return refused_transition(self, f"cannot load the {self.params.detector} detector: {error}")
        self.tracker = FaceTracker(self.params.max_missed_seconds) if self.params.track_faces else None
        self.gaps = StampGapCounter()
        self.gap_warning = (time.monotonic(), 0)  # when the last warning was given, and the count then
        self.publisher = self.create_lifecycle_publisher(FaceArray, "faces", 10)
        self.health.state = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self.images = ImageSubscription(self, self.params.image_transport, self.params.image_reliability,
                                        self.on_image, details=self.health.details)
        self.health.state = "" if self.enabled else "disabled (~/enable)"
        self.get_logger().info(f"detecting faces with {self.params.detector} on {self.images.topic}, "
                               f"subscribed {self.images.description}")
        return super().on_activate(state)

    def on_deactivate(self, state):
        self.images.destroy()
        self.images = None
        self.health.state = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self.destroy_lifecycle_publisher(self.publisher)
        self.detector = self.tracker = self.publisher = None
        self.health.state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        if self.images is not None:
            self.images.destroy()
            self.images = None
        self.health.state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def on_enable(self, request, response):
        """Detection on or off; off publishes nothing, so the head goes idle. On takes the next frame."""
        self.enabled = request.data
        if self.images is not None:
            self.health.state = "" if self.enabled else "disabled (~/enable)"
        response.success, response.message = True, f"face detection {'on' if self.enabled else 'off'}"
        self.get_logger().info(response.message)
        return response

    def on_image(self, msg):
        if not self.enabled:
            return
        started = time.monotonic()
        self.health.input()
        self.check_gaps(stamp_seconds(msg.header))
        try:
            detections = detect_faces(self.detector, decode_image(msg), self.params.max_image_side,
                                      self.params.max_faces)
        except ValueError as error:
            self.get_logger().warning(f"skipping image {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d} on "
                                      f"{self.images.topic}: {error}")
            self.health.skip(error)
            return
        detections = left_to_right(detections)
        if self.tracker is None:
            face_ids = [f"face_{index}" for index in range(len(detections))]
        else:
            face_ids = self.tracker.update([d.box for d in detections], stamp_seconds(msg.header))
        faces = [face_msg(d, face_id) for d, face_id in zip(detections, face_ids) if face_id]
        self.publisher.publish(FaceArray(header=msg.header, faces=faces))
        self.health.output(started)

    def apply_parameters(self, parameters):
        for parameter in parameters:  # the detectors read their thresholds at every frame
            if parameter.name in ("min_face_size", "min_confidence") and self.detector is not None \
                    and hasattr(self.detector, parameter.name):
                setattr(self.detector, parameter.name, parameter.value)

    def check_gaps(self, stamp):
        """Warn, at most every GAP_WARNING_PERIOD seconds, when images are missing between the ones received."""
        self.gaps.update(stamp)
        self.health.missing = self.gaps.missing
        warned_at, missing_then = self.gap_warning
        now = time.monotonic()
        if self.gaps.missing > missing_then and now - warned_at >= GAP_WARNING_PERIOD:
            self.get_logger().warning(
                f"{self.gaps.missing - missing_then} image(s) missing on {self.images.topic} in the last "
                f"{now - warned_at:.0f} s "
                f"(gaps between stamps): lost between processes, or this node is slower than the camera")
            self.gap_warning = (now, self.gaps.missing)


def main(args=None):
    spin_node(FaceDetectionNode, args, reads_images=True)


if __name__ == "__main__":
    main()
