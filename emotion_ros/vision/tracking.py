"""Stable face ids across the frames of a stream, so that a face's emotion can be followed over time.

Matching is greedy on the distance between box centres divided by the face's size: unlike IoU it does
not drop to zero for a small face that moves fast or comes back after a few missed frames, and it is
the same at any distance from the camera. A detection too far from every track, or of a very different
size, starts a new track. Missed frames are counted in seconds so that the tolerance holds at any fps.
"""

import itertools
import math
from dataclasses import dataclass


@dataclass
class Track:
    box: tuple  # (x, y, w, h) of the last detection matched to it
    last_seen: float  # stamp (seconds) of that detection
    hits: int = 1  # detections matched to it so far
    face_id: str = ""  # "" until it has `min_hits` hits


def face_distance(box_a, box_b):
    """Distance between the centres of two boxes, in units of the first box's size."""
    ax, ay, aw, ah = box_a
    bx, by, bw, bh = box_b
    shift = math.hypot((bx + bw / 2) - (ax + aw / 2), (by + bh / 2) - (ay + ah / 2))
    return shift / math.sqrt(max(aw * ah, 1))


def size_ratio(box_a, box_b):
    """How many times larger the bigger box's side is (>= 1)."""
    side_a = math.sqrt(max(box_a[2] * box_a[3], 1))
    side_b = math.sqrt(max(box_b[2] * box_b[3], 1))
    return max(side_a, side_b) / min(side_a, side_b)


class FaceTracker:
    """Gives each face a `face_<n>` id that it keeps while it stays in view; ids are never reused.

    A track survives `max_missed_seconds` without a detection (a blink of the detector, a turned
    head); a face seen again later gets a new id. A track ends only at a frame that still does not
    find it, so that a pause in the frames themselves (a node that fell behind and took the newest
    frame, a paused bag) does not give the face a new id. A new track gets its id only after `min_hits`
    detections, so that a detector's one-frame false alarm does not consume an id (1: at once).
    """

    def __init__(self, max_missed_seconds=0.5, max_distance=1.0, max_size_ratio=1.6, min_hits=1):
        self.max_missed_seconds = max_missed_seconds
        self.max_distance = max_distance
        self.max_size_ratio = max_size_ratio
        self.min_hits = min_hits
        self._tracks = []
        self._numbers = itertools.count(1)

    @property
    def face_ids(self):
        """Ids of the faces tracked now, seen in this frame or missed for a short while."""
        return {track.face_id for track in self._tracks if track.face_id}

    def update(self, boxes, stamp):
        """The face id of each box of this frame, in order ("" for a track not yet confirmed)."""
        pairs = sorted(
            (face_distance(track.box, box), track_index, box_index)
            for track_index, track in enumerate(self._tracks)
            for box_index, box in enumerate(boxes)
            if size_ratio(track.box, box) <= self.max_size_ratio
        )
        matched = [None] * len(boxes)
        taken = set()
        for distance, track_index, box_index in pairs:
            if distance > self.max_distance:
                break
            if track_index in taken or matched[box_index] is not None:
                continue
            taken.add(track_index)
            track = self._tracks[track_index]
            track.box, track.last_seen, track.hits = tuple(boxes[box_index]), stamp, track.hits + 1
            matched[box_index] = track
        for box_index, box in enumerate(boxes):
            if matched[box_index] is None:
                matched[box_index] = Track(tuple(box), stamp)
                self._tracks.append(matched[box_index])
        self._tracks = [t for t in self._tracks if stamp - t.last_seen <= self.max_missed_seconds]
        for track in matched:
            if not track.face_id and track.hits >= self.min_hits:
                track.face_id = f"face_{next(self._numbers)}"
        return [track.face_id for track in matched]
