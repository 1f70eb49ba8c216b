"""The ONNX Runtime detector: output layouts, letterboxing, class filter, ROI, errors."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from edge_worker.detect import DetectorSettings, ModelError, OnnxDetector
from edge_worker.detect.decode import decoder_for
from edge_worker.detect.free_size import with_free_dimensions
from edge_worker.detections import CLASS_NAMES


@pytest.mark.parametrize(
    ("shape", "layout"),
    [
        ((1, 3549, 85), "yolox"),  # 416x416: 52*52 + 26*26 + 13*13 cells
        ((1, 3 * 3549, 85), "yolov5"),  # three anchors per cell
        ((1, 84, 3549), "yolov8"),  # channels first, no objectness
        ((1, 3549, 5), ValueError),
        ((1, 1000, 85), ValueError),
        ((3549, 85), ValueError),
    ],
)
def test_the_layout_is_told_from_the_output_shape(shape, layout):
    if isinstance(layout, str):
        assert decoder_for(shape, 416, 416)[0] == layout
    else:
        with pytest.raises(layout):
            decoder_for(shape, 416, 416)


def test_yolox_cells_are_decoded_with_their_grid_and_stride():
    _, decode = decoder_for((1, 3549, 85), 416, 416)
    raw = np.zeros((3549, 85), np.float32)
    cell = 2 * 52 + 3  # stride 8, column 3, row 2
    raw[cell, :4] = (0.5, 0.5, np.log(2.0), np.log(4.0))
    raw[cell, 4], raw[cell, 5 + 2] = 0.9, 0.5
    boxes, scores = decode(raw)
    assert boxes[cell] == pytest.approx([28.0, 20.0, 16.0, 32.0])
    assert scores[cell, 2] == pytest.approx(0.45)


def test_yolov8_output_is_read_channels_first():
    _, decode = decoder_for((1, 84, 3549), 416, 416)
    raw = np.zeros((84, 3549), np.float32)
    raw[:4, 7] = (100, 50, 20, 10)
    raw[4 + 7, 7] = 0.8  # truck
    boxes, scores = decode(raw)
    assert boxes[7] == pytest.approx([100, 50, 20, 10])
    assert scores[7, 7] == pytest.approx(0.8)


@pytest.fixture(scope="module")
def detector(model_path) -> OnnxDetector:
    return OnnxDetector(model_path)


@pytest.fixture(scope="module")
def street_frame(videos_dir) -> np.ndarray:
    capture = cv2.VideoCapture(str(videos_dir / "suburban_street_ahmetozlu.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 180)  # the pickup truck is on the counting line
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


def test_the_shared_model_is_yolox_with_explicit_threads(detector):
    assert detector.layout == "yolox"
    options = detector._session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert detector._session.get_providers() == ["CPUExecutionProvider"]


def test_it_finds_the_vehicle_on_the_line_and_only_collected_classes(detector, street_frame):
    found = detector.detect(street_frame)
    assert set(found.class_ids.tolist()) <= set(CLASS_NAMES)
    assert np.all(found.xyxy >= 0) and np.all(found.xyxy[:, [0, 2]] <= 640)
    assert np.all(found.xyxy[:, [1, 3]] <= 352)
    strong = found[found.scores > 0.5]
    centres_y = strong.centres[:, 1]
    assert np.any((centres_y > 180) & (centres_y < 220)), "no vehicle box on the y=200 line"


def test_a_region_of_interest_returns_boxes_in_frame_coordinates(model_path, street_frame):
    roi = (200, 100, 520, 300)
    cropped = OnnxDetector(model_path, DetectorSettings(roi=roi)).detect(street_frame)
    assert len(cropped) > 0
    assert np.all(cropped.xyxy[:, [0, 2]] >= 200) and np.all(cropped.xyxy[:, [0, 2]] <= 520)
    assert np.all(cropped.xyxy[:, [1, 3]] >= 100) and np.all(cropped.xyxy[:, [1, 3]] <= 300)
    whole = OnnxDetector(model_path).detect(street_frame)
    best = cropped.xyxy[cropped.scores.argmax()]
    # The same vehicle is found in the same place with and without the crop.
    assert np.min(np.abs(whole.xyxy - best).max(axis=1)) < 25


def test_a_missing_execution_provider_falls_back_to_the_cpu_loudly(model_path, caplog):
    with caplog.at_level(logging.WARNING):
        detector = OnnxDetector(model_path, DetectorSettings(provider="openvino"))
    assert detector._session.get_providers() == ["CPUExecutionProvider"]
    assert "OpenVINOExecutionProvider is not available" in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "model file not found"), (b"not a model", "cannot load model")],
)
def test_a_bad_model_file_is_a_model_error(tmp_path, content, message):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        OnnxDetector(path)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"roi": (10, 10, 5, 50)}, "roi must be"),
        ({"provider": "tpu"}, "provider"),
        ({"intra_op_threads": 0}, "intra_op_threads"),
        ({"score_threshold": 0.3, "colour": 1}, "Extra inputs"),
    ],
)
def test_detector_settings_validation(fields, error):
    with pytest.raises(ValueError, match=error):
        DetectorSettings(**fields)


def test_a_decoder_given_a_minimum_score_keeps_only_the_rows_that_can_reach_it():
    _, decode = decoder_for((1, 3549, 85), 416, 416)
    raw = np.random.default_rng(3).random((3549, 85), dtype=np.float32)
    raw[:, 4] *= 0.2  # objectness: most cells are background
    boxes, scores = decode(raw)
    hopeful = np.flatnonzero(raw[:, 4] >= 0.1)
    kept_boxes, kept_scores = decode(raw, 0.1)
    assert 0 < len(hopeful) < 3549
    assert np.array_equal(kept_boxes, boxes[hopeful])
    assert np.array_equal(kept_scores, scores[hopeful])


def test_the_square_letterbox_is_the_default(detector, street_frame):
    assert not detector.free_size
    assert detector._letterbox(street_frame)[0].shape == (1, 3, 416, 416)


def test_a_tight_letterbox_pads_a_wide_frame_only_to_the_next_multiple_of_32(
    model_path, detector, street_frame
):
    tight = OnnxDetector(model_path, DetectorSettings(letterbox="tight"))
    assert tight.free_size
    blob, scale = tight._letterbox(street_frame)
    assert blob.shape == (1, 3, 256, 416)  # 640x352 scaled to 416x229, padded to 256 rows
    assert scale == pytest.approx(0.65)
    found = tight.detect(street_frame)
    # The same vehicles, in the same places, as with the square input.
    square = detector.detect(street_frame)
    for box in square[square.scores > 0.5].xyxy:
        assert np.min(np.abs(found.xyxy - box).max(axis=1)) < 8


def test_free_dimensions_are_written_into_the_model_file(model_path):
    model = model_path.read_bytes()
    freed = with_free_dimensions(model, "images", {2: "height", 3: "width"}, "output", {1: "n"})
    session = ort.InferenceSession(freed, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, "height", "width"]
    assert session.get_outputs()[0].shape == [1, "n", 85]
    with pytest.raises(ValueError, match="expected input and output"):
        with_free_dimensions(model, "pixels", {2: "h"}, "output", {1: "n"})
    with pytest.raises(ValueError):
        with_free_dimensions(b"\xff\xff\xff", "images", {2: "h"}, "output", {1: "n"})
