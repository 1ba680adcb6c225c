"""The hostile-input suite: each case is a test of the suite, run alone in its own process, with its verdict,
wall time and the peak memory of that process (docs/RELIABILITY.md).

    python tools/reliability_table.py        # or: make reliability

Run inside the project's environment (`. ./shell.sh`): the ROS cases need rclpy and the built messages.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (what is sent, what must hold, the test that sends it and checks it)
CASES = [
    ("1x4000 and 4000x1 frames, a wrong encoding, short data, then a good frame",
     "the detector lives; the good frame's faces",
     "test/test_nodes.py::test_face_detection_skips_bad_frames_and_processes_the_next_good_one"),
    ("a 16x16 JPEG claiming 30000x30000, a cut JPEG, a 1x4000 PNG on image_raw/compressed",
     "refused before decoding; the next frame classified",
     "test/test_nodes.py::test_compressed_images_flow_and_a_broken_jpeg_is_skipped"),
    ("JPEG and PNG bombs as photo files",
     "refused from the header; memory unchanged",
     "test/test_core.py::test_image_sizes_are_read_from_jpeg_and_png_headers_and_bombs_refused_before_decoding"),
    ("an 8K frame",
     "searched on a 1920 px copy",
     "test/test_nodes.py::test_detector_searches_huge_frames_on_a_smaller_copy"),
    ("a FaceArray of more faces than max_faces",
     "only the largest classified",
     "test/test_nodes.py::test_classifier_caps_the_faces_of_one_image"),
    ("an EmotionArray of 3,001 faces",
     "cut to the 100 largest; the head follows the largest",
     "test/test_social_node.py::test_a_crowd_of_emotions_is_cut_to_the_largest_faces_and_the_head_follows_the_largest"),
    ("10,000 new face ids at one stamp",
     "the smoother keeps 256 at most",
     "test/test_smoothing.py::test_ever_new_face_ids_at_one_stamp_keep_the_memory_bounded"),
    ("NaN, inf, 10^9, out-of-range and wrong-typed values set live",
     "refused with the reason; the node runs on",
     "test/test_nodes.py::test_parameters_are_checked_when_set_and_applied_live"),
    ("inf, a string for seconds, 10^9 pixels, a bad language at start",
     "one line, exit status 1, no traceback",
     "test/test_faults.py::test_a_node_refuses_a_bad_start_with_one_line"),
    ("a YAML alias bomb, a FIFO, a 300 kB file as prompt table",
     "refused at once, memory unchanged",
     "test/test_prompts.py::test_alias_bombs_fifos_and_huge_files_are_refused_before_they_cost_anything"),
    ("a prompt table with emoji the font cannot draw, an emoji picture of 10^9 px",
     "refused at start and live",
     "test/test_social_node.py::test_a_prompt_table_with_emoji_the_font_cannot_draw_is_refused_at_start_and_live"),
    ("a parameter file over 1 MiB",
     "refused before it is parsed",
     "test/test_package.py::test_shipped_parameter_files_are_found_from_any_folder_and_huge_files_refused"),
    ("the classifier stops sending emotions",
     "the head goes idle; /diagnostics STALE",
     "test/test_social_node.py::test_the_head_goes_idle_when_emotions_stop_and_diagnostics_say_so"),
    ("the detector dies while images flow",
     "the classifier says STALE on /diagnostics",
     "test/test_nodes.py::test_nodes_report_their_health_on_diagnostics"),
    ("a looping video cut to 0 bytes, removed, put back",
     "reopened; frames again",
     "test/test_core.py::test_a_looping_video_that_is_cut_or_removed_is_opened_again_when_it_is_back"),
    ("a bag with an unreadable frame and a garbage message; --csv over a result, into the input bag",
     "skipped with topic and stamp; nothing lost",
     "test/test_bags.py::test_a_bad_frame_is_skipped_with_its_topic_and_stamp_and_no_earlier_result_is_lost"),
    ("bags compressed by file and by message (zstd)",
     "refused before decompressing",
     "test/test_bags.py::test_compressed_bags_are_refused_before_anything_is_decompressed"),
    ("Ctrl-C and SIGTERM during analyze VIDEO",
     "exit 130, one line, no partial output",
     "test/test_cli.py::test_ctrl_c_and_sigterm_end_a_video_analysis_with_one_line_and_no_partial_output"),
    ("export over a model, through a link, of a network of the wrong shape",
     "refused; nothing written",
     "test/test_model.py::test_export_never_replaces_a_model_unasked_nor_through_a_link_and_checks_the_network"),
    ("train --resume without a checkpoint, a run directory in use",
     "refused; the best model kept",
     "test/test_model.py::test_training_with_ferplus_balance_and_camera_records_the_new_metrics"),
]


def run_case(test_id):
    """(passed, seconds, peak RSS in MiB) of one test run alone by pytest in a process of its own."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_id],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    passed = os.waitstatus_to_exitcode(status) == 0
    if not passed:
        sys.stderr.write(output.decode(errors="replace")[-2000:])
    return passed, seconds, usage.ru_maxrss / 1024


def main():
    print("| input | what must hold | verdict | time (s) | peak RSS (MiB) |")
    print("| --- | --- | --- | ---: | ---: |")
    failures = 0
    for sent, expected, test_id in CASES:
        passed, seconds, peak = run_case(test_id)
        failures += not passed
        print(f"| {sent} | {expected} | {'held' if passed else 'FAILED'} | {seconds:.1f} | {peak:.0f} |", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
