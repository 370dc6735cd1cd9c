"""SAM refinement with small segment-anything models saved as state dicts."""

from __future__ import annotations

import pytest
import torch
from mask_fixtures import TINY_INPUT, build_tiny_sam, gradient_image, save_tiny_bisenet, save_tiny_sam

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.masks import BISENET_LABEL_ORDER, SamRefiner, load_parser
from freecure_edit.masks.sam_build import sam_geometry
from freecure_edit.masks.sam_prompts import connected_components, interior_depth, peak_points

WIDTH, HEIGHT = 96, 64


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sam")
    return {
        "random": save_tiny_sam(folder / "sam_tiny.pth"),
        "everything": save_tiny_sam(folder / "sam_everything.safetensors", mask_logit=1.0),
        "nothing": save_tiny_sam(folder / "sam_nothing.pth", mask_logit=-1.0),
    }


def rectangle(top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    region = torch.zeros(HEIGHT, WIDTH)
    region[top:bottom, left:right] = 1
    return region


def test_checkpoint_loads_into_a_network_of_its_own_geometry(checkpoints):
    refiner = SamRefiner.from_checkpoint(checkpoints["random"], device="cpu")
    reference = build_tiny_sam().state_dict()
    loaded = refiner.predictor.model.state_dict()
    assert loaded.keys() == reference.keys()
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)
    geometry = sam_geometry(reference, "tiny")
    assert (geometry["img_size"], geometry["window_size"], geometry["global_attn_indexes"]) == (TINY_INPUT, 4, (1,))


def test_prompted_inside_a_region_the_mask_stays_at_that_region(checkpoints):
    # This SAM answers "everything", so what comes back is decided by where the refiner prompted.
    refiner = SamRefiner.from_checkpoint(checkpoints["everything"], device="cpu")
    mask = refiner.refine(gradient_image(WIDTH, HEIGHT), region=rectangle(20, 40, 30, 50))
    assert mask.shape == (HEIGHT, WIDTH) and mask.dtype == torch.float32
    assert torch.equal(mask, rectangle(18, 42, 28, 52))  # the 20x20 box grown by 10 %


def test_each_blob_is_prompted_on_its_own(checkpoints):
    refiner = SamRefiner.from_checkpoint(checkpoints["everything"], device="cpu")
    earrings = rectangle(40, 50, 4, 10) + rectangle(40, 50, 80, 86)
    mask = refiner.refine(gradient_image(WIDTH, HEIGHT), region=earrings)
    assert torch.equal(mask, rectangle(38, 52, 2, 12) + rectangle(38, 52, 78, 88))


def test_prompts_are_a_box_and_points_inside_the_region(checkpoints):
    refiner = SamRefiner.from_checkpoint(checkpoints["random"], device="cpu")
    calls = []
    original = refiner.predictor.predict

    def recording_predict(**prompt):
        calls.append(prompt)
        return original(**prompt)

    refiner.predictor.predict = recording_predict
    region = rectangle(10, 30, 20, 60)
    mask = refiner.refine(gradient_image(WIDTH, HEIGHT), region=region, points=2)
    (call,) = calls
    assert call["box"].tolist() == [20, 10, 60, 30]
    assert len(call["point_coords"]) == 2
    for x, y in call["point_coords"]:
        assert region[int(y), int(x)] == 1
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert not mask[:, :17].any() and not mask[:, 63:].any()  # within the box grown by 10 %


def test_heat_map_alone_prompts_points_at_its_peak(checkpoints):
    refiner = SamRefiner.from_checkpoint(checkpoints["everything"], device="cpu")
    heat = torch.zeros(8, 12)  # an attention grid, coarser than the image
    heat[2, 9] = 1.0
    calls = []
    original = refiner.predictor.predict
    refiner.predictor.predict = lambda **prompt: calls.append(prompt) or original(**prompt)
    mask = refiner.refine(gradient_image(WIDTH, HEIGHT), heatmap=heat, points=1)
    assert mask.shape == (HEIGHT, WIDTH) and bool(mask.all())
    (x, y), = calls[0]["point_coords"]
    assert (x // 8, y // 8) == (9, 2) and calls[0]["box"] is None


def test_when_sam_finds_nothing_the_coarse_region_is_kept(checkpoints):
    refiner = SamRefiner.from_checkpoint(checkpoints["nothing"], device="cpu")
    region = rectangle(5, 25, 5, 45)
    assert torch.equal(refiner.refine(gradient_image(WIDTH, HEIGHT), region=region), region)
    assert refiner.refine(gradient_image(WIDTH, HEIGHT), region=torch.zeros(4, 4)).sum() == 0


def test_refine_needs_a_prompt(checkpoints):
    refiner = SamRefiner.from_checkpoint(checkpoints["random"], device="cpu")
    with pytest.raises(ConfigurationError):
        refiner.refine(gradient_image(WIDTH, HEIGHT))


def test_sam_parser_refines_hair_of_its_base_parser(tmp_path, checkpoints):
    bisenet = save_tiny_bisenet(tmp_path / "79999_iter.pth", hot_class=BISENET_LABEL_ORDER.index("hair"))
    parser = load_parser(
        "sam", str(checkpoints["everything"]), device="cpu", base="bisenet", base_model=str(bisenet),
        base_options={"input_size": TINY_INPUT},
    )
    maps = parser.parse(gradient_image(WIDTH, HEIGHT))
    assert torch.equal(maps["hair"], torch.ones(HEIGHT, WIDTH))  # binary after SAM
    assert 0 < float(maps["skin"].max()) < 0.01  # not refined: still the parser's probability


@pytest.mark.parametrize("model", [None, "nowhere/sam_vit_b_01ec64.pth"])
def test_missing_checkpoint_says_what_to_download(tmp_path, model):
    with pytest.raises(ModelNotFoundError, match="sam_vit_b_01ec64.pth") as error:
        SamRefiner.from_checkpoint(None if model is None else tmp_path / model)
    assert "\n" not in str(error.value)


def test_checkpoint_of_the_wrong_shape_is_refused(tmp_path):
    state = build_tiny_sam().state_dict()
    state["mask_decoder.iou_token.weight"] = torch.zeros(1, 16)
    torch.save(state, tmp_path / "reshaped.pth")
    with pytest.raises(ConfigurationError, match="does not fit the segment-anything network"):
        SamRefiner.from_checkpoint(tmp_path / "reshaped.pth")
    save_tiny_bisenet(tmp_path / "bisenet.pth")
    with pytest.raises(ConfigurationError, match="not a segment-anything checkpoint"):
        SamRefiner.from_checkpoint(tmp_path / "bisenet.pth")


def test_components_depth_and_peaks():
    region = (rectangle(0, 10, 0, 10) + rectangle(30, 60, 40, 90)).bool()
    blobs = connected_components(region)
    assert [int(b.sum()) for b in blobs] == [1500, 100]
    depth = interior_depth(blobs[0])
    assert int(depth.max()) == 15 and depth[45, 65] == 15 and depth[30, 40] == 1 and depth[0, 0] == 0
    score = torch.zeros(20, 20)
    score[5, 5], score[5, 6], score[15, 15] = 3.0, 2.0, 1.0
    assert peak_points(score, 3, min_distance=3) == [(5.5, 5.5), (15.5, 15.5)]
