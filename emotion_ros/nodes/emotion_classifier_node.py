"""emotion_classifier_node: pairs each face array with its image by stamp, publishes `emotions`.

A lifecycle node: the emotion model loads on configure, images and face arrays are taken while active
(the subscriptions exist only then); deactivating keeps the loaded model.
"""

import time
from collections import OrderedDict

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from sensor_msgs.msg import Image

from ..classes import CLASSES
from ..msg import Emotion, EmotionArray, FaceArray
from ..social.prompts import SHIPPED_LANGUAGES, load_prompts
from ..vision.classifier import EmotionClassifier
from ..vision.drawing import draw_faces
from ..vision.images import decode_image
from ..vision.pipeline import face_emotions, framed_face, predicted
from ..vision.smoothing import EmotionSmoother
from ..vision.stream import smooth_faces
from .common import (
    AUTOSTART_DESCRIPTION,
    IMAGE_RELIABILITY,
    IMAGE_RELIABILITY_DESCRIPTION,
    IMAGE_TRANSPORT,
    IMAGE_TRANSPORT_DESCRIPTION,
    ImageSubscription,
    NodeHealth,
    between,
    declare_parameters,
    detection_from_face,
    image_msg,
    image_qos,
    one_of,
    refused_transition,
    roi_msg,
    spin_node,
    stamp_seconds,
    start_lifecycle,
)

PARAMETERS = {
    "face_margin": "fraction of the face's frame added on each side before classifying "
                   "(0 frames faces like FER2013)",
    "align_faces": "turn each face upright (eye line level) and frame it from its eyes, nose and mouth when the "
                   "detector gives them (BlazeFace, MTCNN); otherwise, and when false, crop the square of its box",
    "flip_tta": "average each face with its mirror image (more stable, twice the inference time)",
    "zoom_tta": "also classify the central 85 % of each face (and its mirror with flip_tta): 4 inferences per face "
                "with flip_tta",
    "ensemble": "classify with the photos' ensemble of three models (more accurate, three times the inference "
                "time), faces under 40 px wide, blurred, noisy or JPEG-compressed with a camera-trained model; false: "
                "the stream's one model for all",
    "class_balance": "0: each emotion as likely as in FER2013's web photos (happy 25 %, disgust 1.5 %); 1: all "
                     "seven alike, as when people pose them; between, part of the way (docs/MODEL.md)",
    "image_cache_size": "images kept to pair with their face arrays by header stamp",
    "smoothing_time_constant": "seconds over which each tracked face's probabilities are averaged so the label "
                               "does not flicker on live video; 0 classifies every image on its own (photos)",
    "switch_margin": "live video: the label changes only when another class's smoothed probability leads by this",
    "image_reliability": IMAGE_RELIABILITY_DESCRIPTION,
    "image_transport": IMAGE_TRANSPORT_DESCRIPTION,
    "max_faces": "at most this many faces of a face array are classified, the largest first",
    "label_language": "language of the labels drawn on emotions/image: en or fr (set it like social_response_node's "
                      "language); the messages always carry the class names",
    "autostart": AUTOSTART_DESCRIPTION,
}
CHECKS = {
    "face_margin": between(0.0, 1.0),
    "class_balance": between(0.0, 1.0),
    "image_cache_size": between(1, 100),
    "smoothing_time_constant": between(0.0, 60.0),
    "switch_margin": between(0.0, 1.0),
    "max_faces": between(1, 1000),
    "image_transport": IMAGE_TRANSPORT,
    "image_reliability": IMAGE_RELIABILITY,
    "label_language": one_of(*SHIPPED_LANGUAGES),
}
LIVE = ("face_margin", "align_faces", "flip_tta", "zoom_tta", "ensemble", "class_balance", "image_cache_size",
        "smoothing_time_constant", "switch_margin", "max_faces", "label_language")
# Seconds after which the smoothing state of a face that is no longer reported is dropped.
SMOOTHING_MEMORY = 2.0
PENDING_FACE_ARRAYS = 10


def stamp_key(header):
    return (header.stamp.sec, header.stamp.nanosec, header.frame_id)


def emotion_msgs(faces):
    return [
        Emotion(
            face_id=face.face_id,
            roi=roi_msg(face.box),
            label=face.label,
            confidence=face.confidence,
            scores=[face.scores[name] for name in CLASSES],
            valence=face.valence,
            arousal=face.arousal,
        )
        for face in faces
    ]


class EmotionClassifierNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("emotion_classifier_node", **kwargs)
        self.params = declare_parameters(self, "emotion_classifier_node", PARAMETERS, CHECKS, LIVE)
        self.classifier = self.smoother = self.publisher = self.annotated_publisher = None
        self.image_subscription = self.faces_subscription = None
        self.images = OrderedDict()  # stamp -> Image, oldest first, at most image_cache_size
        self.pending_faces = OrderedDict()  # stamp -> FaceArray that came before its image
        self.lifecycle_error = ""
        self.health = NodeHealth(self, {"model": ""})
        self.health.state = "unconfigured"
        self.last_faces = time.monotonic()  # when the last FaceArray came
        self.create_timer(1.0, self.check_detector)
        self.add_post_set_parameters_callback(self.apply_parameters)
        start_lifecycle(self)

    def on_configure(self, state):
        try:
            self.classifier = EmotionClassifier.shipped(self.params.ensemble, flip_tta=self.params.flip_tta,
                                                        zoom_tta=self.params.zoom_tta,
                                                        class_balance=self.params.class_balance)
        except (ValueError, OSError) as error:
            return refused_transition(self, f"cannot load the emotion model: {error}")
        self.label_names = load_prompts(self.params.label_language).names
        self.smoother = None
        if self.params.smoothing_time_constant > 0:
            self.smoother = EmotionSmoother(self.params.smoothing_time_constant, self.params.switch_margin)
        self.publisher = self.create_lifecycle_publisher(EmotionArray, "emotions", 10)
        # Reliable, newest only: image viewers that subscribe reliably receive it, best-effort ones too.
        self.annotated_publisher = self.create_lifecycle_publisher(Image, "emotions/image", image_qos(reliable=True))
        self.health.details["model"] = self.classifier.name
        self.health.state = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self.image_subscription = ImageSubscription(self, self.params.image_transport,
                                                    self.params.image_reliability, self.on_image, depth=5,
                                                    details=self.health.details)
        self.faces_subscription = self.create_subscription(FaceArray, "faces", self.on_faces, 10)
        self.last_faces = time.monotonic()
        self.health.state = ""
        self.get_logger().info(f"classifying faces with {self.classifier.name} on {self.image_subscription.topic}, "
                               f"subscribed {self.image_subscription.description}")
        return super().on_activate(state)

    def on_deactivate(self, state):
        self.stop_subscriptions()
        self.health.state = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        for publisher in (self.publisher, self.annotated_publisher):
            self.destroy_lifecycle_publisher(publisher)
        self.classifier = self.smoother = self.publisher = self.annotated_publisher = None
        self.health.state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        self.stop_subscriptions()
        self.health.state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def stop_subscriptions(self):
        if self.image_subscription is not None:
            self.image_subscription.destroy()
        if self.faces_subscription is not None:
            self.destroy_subscription(self.faces_subscription)
        self.image_subscription = self.faces_subscription = None
        self.images.clear()
        self.pending_faces.clear()

    def apply_parameters(self, parameters):
        if self.classifier is None:  # not configured: configure reads the parameters
            return
        values = {parameter.name: parameter.value for parameter in parameters}
        if "flip_tta" in values:
            self.classifier.flip_tta = values["flip_tta"]
        if "zoom_tta" in values:
            self.classifier.zoom_tta = values["zoom_tta"]
        if "class_balance" in values:
            self.classifier.class_balance = values["class_balance"]
        if "ensemble" in values:
            self.classifier = EmotionClassifier.shipped(values["ensemble"], flip_tta=self.classifier.flip_tta,
                                                        zoom_tta=self.classifier.zoom_tta,
                                                        class_balance=self.classifier.class_balance)
            self.health.details["model"] = self.classifier.name
        if "label_language" in values:
            self.label_names = load_prompts(values["label_language"]).names
        if "smoothing_time_constant" in values or "switch_margin" in values:
            time_constant = values.get("smoothing_time_constant", self.params.smoothing_time_constant)
            switch_margin = values.get("switch_margin", self.params.switch_margin)
            # a new smoother: each face's average starts again from its next frame
            self.smoother = EmotionSmoother(time_constant, switch_margin) if time_constant > 0 else None

    def on_image(self, msg):
        self.health.input()
        key = stamp_key(msg.header)
        if key in self.pending_faces:
            self.classify(msg, self.pending_faces.pop(key))
            return
        self.images[key] = msg
        while len(self.images) > self.params.image_cache_size:
            self.images.popitem(last=False)

    def check_detector(self):
        """STALE on /diagnostics while images arrive but no FaceArray does: face_detection_node stopped or died."""
        now = time.monotonic()
        silent = now - self.last_faces
        images_arrive = (self.image_subscription is not None
                         and now - self.health.last_input < NodeHealth.NO_INPUT_WARNING)
        self.health.stale = (f"images arrive but no face array came for {silent:.0f} s: is face_detection_node "
                             "running?" if images_arrive and silent > NodeHealth.NO_INPUT_WARNING else "")

    def on_faces(self, msg):
        self.last_faces = time.monotonic()
        key = stamp_key(msg.header)
        image = self.images.pop(key, None)
        if image is not None:
            self.classify(image, msg)
            return
        self.pending_faces[key] = msg
        while len(self.pending_faces) > PENDING_FACE_ARRAYS:
            self.pending_faces.popitem(last=False)

    def classify(self, image_msg_in, faces_msg):
        started = time.monotonic()
        try:
            image = decode_image(image_msg_in)
        except (ValueError, TypeError) as error:
            self.get_logger().warning(f"skipping image {stamp_key(faces_msg.header)} on "
                                      f"{self.image_subscription.topic}: {error}")
            self.health.skip(error)
            return
        faces_in = list(faces_msg.faces)
        if len(faces_in) > self.params.max_faces:
            self.get_logger().warning(f"image {stamp_key(faces_msg.header)}: classifying the {self.params.max_faces} "
                                      f"largest of {len(faces_in)} faces (max_faces)", throttle_duration_sec=10.0)
            largest = sorted(range(len(faces_in)), key=lambda i: -faces_in[i].roi.width * faces_in[i].roi.height)
            faces_in = [faces_in[i] for i in sorted(largest[: self.params.max_faces])]
        kept, boxes, framed = [], [], []
        for face in faces_in:  # a bad box costs only its own face
            detection = detection_from_face(face)
            try:
                framed.append(framed_face(image, detection, self.params.face_margin, self.params.align_faces))
            except ValueError as error:
                self.get_logger().warning(
                    f"image {stamp_key(faces_msg.header)}: skipping face {face.face_id!r}: {error}")
                continue
            kept.append(face)
            boxes.append(detection.box)
        try:
            scores = predicted(self.classifier, framed)
        except RuntimeError as error:  # the LiteRT interpreter failed: report it, keep serving the next images
            self.get_logger().error(f"the emotion model cannot run: {error}")
            self.health.fail(f"the emotion model cannot run: {error}")
            return
        face_ids = [face.face_id for face in kept]
        if self.smoother is not None:
            faces = self.smoothed(boxes, scores, face_ids, kept, faces_msg.header)
        else:
            faces = face_emotions(boxes, scores, face_ids, [face.confidence for face in kept])
        emotions = EmotionArray(header=faces_msg.header, classes=list(CLASSES), emotions=emotion_msgs(faces))
        self.publisher.publish(emotions)
        self.health.output(started)
        if self.annotated_publisher.get_subscription_count() > 0:
            self.annotated_publisher.publish(image_msg(draw_faces(image, faces, self.label_names), faces_msg.header))

    def smoothed(self, boxes, scores, face_ids, faces, header):
        stamp = stamp_seconds(header)
        self.smoother.forget_stale(stamp, SMOOTHING_MEMORY)
        return smooth_faces(self.smoother, boxes, scores, face_ids, [f.confidence for f in faces], stamp)


def main(args=None):
    spin_node(EmotionClassifierNode, args, reads_images=True)


if __name__ == "__main__":
    main()
