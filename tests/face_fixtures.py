"""Tiny insightface packs with known faces, built as ONNX graphs, and the astronaut portrait.

The detector has SCRFD's signature (scores, box distances and keypoint distances for strides 8, 16 and
32, two anchors each) so insightface routes it to its own SCRFD class, and constant outputs: the faces it
finds are exactly the ones planned here, after insightface's own decoding and NMS. The recogniser has
ArcFace's signature (112 px square input, one embedding output): an average pool and a fixed random
projection, so different faces give different embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import PIL.Image
import pytest
from onnx import TensorProto, helper, numpy_helper

DETECTOR_INPUT = 640
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
# Faces are planned on the coarsest grid; its anchor centres are 32 px apart in the detector's input.
PLANNING_STRIDE = 32
RECOGNIZER_INPUT = 112
EMBEDDING_SIZE = 64


@dataclass(frozen=True)
class PlannedFace:
    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float


def astronaut() -> PIL.Image.Image:
    from skimage import data

    return PIL.Image.fromarray(data.astronaut())


# Placed by eye on skimage's astronaut (512 x 512): her face, with a square box and level eyes, so that
# the rolled copy's box and roll are exactly what a rotation predicts.
ASTRONAUT_FACE = PlannedFace(
    box=(166.0, 62.0, 286.0, 182.0),
    landmarks=np.array([[204.0, 102.0], [246.0, 102.0], [225.0, 125.0], [207.0, 143.0], [243.0, 143.0]]),
    score=0.90,
)
# A smaller "face" on the shuttle, more confident than the real one: insightface lists it first, and
# largest-first order must put it second.
SHUTTLE_FACE = PlannedFace(
    box=(384.0, 40.0, 432.0, 88.0),
    landmarks=np.array([[398.0, 56.0], [418.0, 56.0], [408.0, 65.0], [400.0, 75.0], [416.0, 75.0]]),
    score=0.95,
)


def rotation_about(center: tuple[float, float], degrees: float) -> np.ndarray:
    """OpenCV's 2x3 rotation of the image plane about `center` (positive: counter-clockwise on screen)."""
    return cv2.getRotationMatrix2D(center, degrees, 1.0)


def rotated_photo(photo: PIL.Image.Image, matrix: np.ndarray) -> PIL.Image.Image:
    pixels = cv2.warpAffine(
        np.asarray(photo), matrix, photo.size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    return PIL.Image.fromarray(pixels)


def rotated_face(face: PlannedFace, matrix: np.ndarray) -> PlannedFace:
    """The face moved by `matrix`, with the axis-aligned box a detector would draw around it."""
    x0, y0, x1, y1 = face.box
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) @ matrix[:, :2].T + matrix[:, 2]
    box = (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max())
    landmarks = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
    return PlannedFace(box=tuple(float(value) for value in box), landmarks=landmarks, score=face.score)


def detection_scale(width: int, height: int) -> float:
    """insightface's letterbox scale from the photo to the detector's square input."""
    if height / width > 1.0:
        new_height = DETECTOR_INPUT
    else:
        new_height = int(DETECTOR_INPUT * (height / width))
    return new_height / height


def detector_outputs(faces: list[PlannedFace], image_size: tuple[int, int]) -> list[np.ndarray]:
    """SCRFD's nine outputs (scores, boxes, keypoints per stride), zero except one anchor per face."""
    scale = detection_scale(*image_size)
    per_stride = {}
    for stride in STRIDES:
        cells = (DETECTOR_INPUT // stride) ** 2 * ANCHORS_PER_CELL
        per_stride[stride] = (
            np.zeros((cells, 1), np.float32),
            np.zeros((cells, 4), np.float32),
            np.zeros((cells, 10), np.float32),
        )
    scores, boxes, keypoints = per_stride[PLANNING_STRIDE]
    grid = DETECTOR_INPUT // PLANNING_STRIDE
    used = set()
    for face in faces:
        box = np.array(face.box) * scale
        column = int(round((box[0] + box[2]) / 2 / PLANNING_STRIDE))
        row = int(round((box[1] + box[3]) / 2 / PLANNING_STRIDE))
        anchor = (row * grid + column) * ANCHORS_PER_CELL
        assert anchor not in used, "two planned faces share an anchor"
        used.add(anchor)
        center = np.array([column, row], dtype=np.float64) * PLANNING_STRIDE
        # insightface decodes distances times the stride from the anchor centre.
        scores[anchor, 0] = face.score
        boxes[anchor] = np.concatenate([center - box[:2], box[2:] - center]) / PLANNING_STRIDE
        keypoints[anchor] = ((face.landmarks * scale - center) / PLANNING_STRIDE).ravel()
    return [per_stride[stride][part] for part in range(3) for stride in STRIDES]


def build_detector(path: Path, faces: list[PlannedFace], image_size: tuple[int, int] = (512, 512)) -> Path:
    outputs = detector_outputs(faces, image_size)
    names = [f"{part}_{stride}" for part in ("score", "bbox", "kps") for stride in STRIDES]
    # Each output adds 0 x mean(input): constant values, but a graph that still reads its input.
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0, name="mean"),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"], name="nothing"),
    ]
    initializers = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    for name, value in zip(names, outputs):
        initializers.append(numpy_helper.from_array(value, f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name], name=name))
    graph = helper.make_graph(
        nodes,
        "tiny_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, DETECTOR_INPUT, DETECTOR_INPUT])],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape))
            for name, value in zip(names, outputs)
        ],
        initializer=initializers,
    )
    return _save(graph, path)


def build_recognizer(path: Path, seed: int = 0) -> Path:
    pooled = 3 * 8 * 8
    projection = np.random.default_rng(seed).standard_normal((pooled, EMBEDDING_SIZE)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["data"], ["pooled"], kernel_shape=[14, 14], strides=[14, 14], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1, name="flatten"),
        helper.make_node("MatMul", ["flat", "projection"], ["fc1"], name="embedding"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_arcface",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, RECOGNIZER_INPUT, RECOGNIZER_INPUT])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", EMBEDDING_SIZE])],
        initializer=[numpy_helper.from_array(projection, "projection")],
    )
    return _save(graph, path)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def write_pack(folder: Path, faces: list[PlannedFace], *, recognizer: bool = True) -> Path:
    """A folder laid out like buffalo_l: det_10g.onnx and, optionally, w600k_r50.onnx."""
    build_detector(folder / "det_10g.onnx", faces)
    if recognizer:
        build_recognizer(folder / "w600k_r50.onnx")
    return folder


# The roll of the rolled-face pack, in degrees; large enough that an unaligned crop looks nothing alike.
ROLL_DEGREES = 30.0


@dataclass(frozen=True)
class FacePacks:
    root: Path  # an insightface root: root/models/buffalo_l holds the two-face pack
    two_faces: Path
    rolled: Path  # detector only: the astronaut rotated by ROLL_DEGREES about her face
    rotation: np.ndarray


_built: FacePacks | None = None


@pytest.fixture(scope="session")
def face_packs(tmp_path_factory) -> FacePacks:
    """Built once per session, whichever test module asks first."""
    global _built
    if _built is None:
        root = tmp_path_factory.mktemp("insightface")
        two_faces = write_pack(root / "models" / "buffalo_l", [ASTRONAUT_FACE, SHUTTLE_FACE])
        x0, y0, x1, y1 = ASTRONAUT_FACE.box
        rotation = rotation_about(((x0 + x1) / 2, (y0 + y1) / 2), ROLL_DEGREES)
        rolled_face = rotated_face(ASTRONAUT_FACE, rotation)
        rolled = write_pack(root / "rolled" / "buffalo_l", [rolled_face], recognizer=False)
        _built = FacePacks(root=root, two_faces=two_faces, rolled=rolled, rotation=rotation)
    return _built


_analyzers: dict[Path, object] = {}


@pytest.fixture(scope="session")
def load_analyzer(face_packs):
    """A factory: the analyzer of one of the packs, loaded once."""
    from freecure_edit.faces import load_face_analyzer

    def load(folder: Path):
        if folder not in _analyzers:
            _analyzers[folder] = load_face_analyzer("buffalo_l", root=folder, providers=["CPUExecutionProvider"])
        return _analyzers[folder]

    return load


def level_gap(points: np.ndarray) -> float:
    """How far apart vertically the two eyes are, in pixels."""
    return float(abs(points[1, 1] - points[0, 1]))


def degrees_between(first: np.ndarray, second: np.ndarray) -> float:
    return math.degrees(math.atan2(second[1] - first[1], second[0] - first[0]))
