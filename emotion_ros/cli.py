"""The `emotion-ros` command."""

import argparse


def add_train_parser(subparsers):
    from . import training

    parser = subparsers.add_parser("train", help="train the emotion CNN from scratch on FER2013",
                                   description="Train the emotion CNN; checkpoints every epoch, --resume continues.")
    parser.add_argument("--train", default=training.DEFAULT_TRAIN, help="training data: .npz, FER2013 .csv or a folder of class folders")
    parser.add_argument("--val", default=training.DEFAULT_VAL, help="validation data (PublicTest), same formats")
    parser.add_argument("--run-dir", default="runs/emotion_cnn", help="checkpoints, history.csv and curves.png go here")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--width", type=int, default=32, help="filters of the first block (doubled per block)")
    parser.add_argument("--class-weight-power", type=float, default=0.5, help="0: no class weights, 1: fully balanced")
    parser.add_argument("--limit", type=int, help="use only the first N faces of each split (smoke tests)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.keras")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=lambda a: training.train(
        a.train, a.val, a.run_dir, a.epochs, a.batch_size, a.learning_rate, a.width,
        a.class_weight_power, a.limit, a.resume, a.seed))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="emotion-ros", description=__doc__)
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND")
    add_train_parser(subparsers)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
