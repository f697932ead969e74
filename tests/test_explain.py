"""Explanation stage: Grad-CAM explains the *fake* logit, releases its hooks, and region shares
put the heat where it is on the face."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdemo.detector import load_detector
from dfdemo.explain import REGIONS, gradcam, overlay, region_masks, region_shares, top_region

S = 224
# a frontal face in a 224 crop: right eye, left eye, nose tip, mouth, right ear, left ear
KPS = np.array([[80, 95], [144, 95], [112, 128], [112, 160], [48, 112], [176, 112]], np.float32)
D = 64.0  # eye distance
ANATOMY = {  # a point that is anatomically in each region
    "eyes": (80, 95), "nose": (112, 130), "mouth": (112, 162), "forehead": (112, 95 - 0.7 * D),
    "cheeks_jaw": (112 - 0.8 * D, 150), "background": (8, 216),
}


def blob(x: float, y: float, sigma: float = 4.0, size: int = S) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("region", list(ANATOMY))
def test_heat_on_a_region_gives_it_the_largest_share(region):
    shares = region_shares(blob(*ANATOMY[region]), KPS)
    assert set(shares) == set(REGIONS)
    assert top_region(shares) == region and shares[region] > 0.5, shares


def test_shares_sum_to_one_and_zero_map_gives_nothing():
    rng = np.random.default_rng(0)
    shares = region_shares(rng.random((S, S)), KPS)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in shares.values())
    assert region_shares(np.zeros((S, S)), KPS) == {}
    assert region_shares(np.full((S, S), -1.0), KPS) == {}  # negative heat is no heat
    assert top_region({}) == "none"


def test_masks_are_disjoint_cover_the_crop_and_turn_with_the_head():
    masks = region_masks(KPS, S)
    stack = np.stack([masks[r] for r in REGIONS]).astype(int)
    assert np.all(stack.sum(0) == 1)
    assert all(masks[r].any() for r in REGIONS)
    # the same face turned 90° (crop and keypoints together) has the same regions, turned
    turned = np.stack([KPS[:, 1], S - KPS[:, 0]], 1)  # (x, y) -> (y, S - x): np.rot90 of the image
    rot = region_masks(turned, S)
    for r in REGIONS:
        assert (np.rot90(masks[r]) != rot[r]).mean() < 0.01, r
    heat = blob(*ANATOMY["mouth"])
    a, b = region_shares(heat, KPS), region_shares(np.rot90(heat), turned)
    assert a["mouth"] == pytest.approx(b["mouth"], abs=0.02)


class RedIsFake(torch.nn.Module):
    """A two-channel toy detector: red evidence raises the fake logit, green lowers it."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.features.weight.zero_()
            self.features.weight[0, 0] = 1.0  # channel 0 = red
            self.features.weight[1, 1] = 1.0  # channel 1 = green
        self.act = torch.nn.ReLU()

    def forward(self, x):
        a = self.act(self.features(x))
        return (a[:, 0].mean((1, 2)) - a[:, 1].mean((1, 2))).unsqueeze(1)


def test_gradcam_shows_evidence_for_fake_not_for_real():
    x = torch.zeros(1, 3, 64, 64)
    x[0, 0, 4:20, 4:20] = 1.0  # red (fake evidence) top-left
    x[0, 1, 40:60, 40:60] = 1.0  # green (real evidence) bottom-right
    model = RedIsFake()
    maps = gradcam(model, model.act, x)
    assert maps.shape == (1, 64, 64)
    m = maps[0]
    assert m[4:20, 4:20].mean() > 0.9 and m[40:60, 40:60].max() == 0.0


def test_gradcam_on_the_detector_shape_range_and_released_hooks(tiny_weights):
    d = load_detector(tiny_weights)
    crops = np.random.default_rng(0).integers(0, 256, (3, S, S, 3), dtype=np.uint8)
    before = d.predict(crops)
    maps = gradcam(d.model, d.target_layer, d.preprocess(crops))
    assert maps.shape == (3, S, S) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(maps, gradcam(d.model, d.target_layer, d.preprocess(crops)), atol=1e-5)
    for m in d.model.modules():  # nothing left on the model: scoring stores no activations
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks, m
    assert all(p.requires_grad for p in d.model.parameters())
    assert not d.model.training
    np.testing.assert_allclose(d.predict(crops), before, atol=1e-6)
    assert gradcam(d.model, d.target_layer, d.preprocess(crops[:0])).shape == (0, S, S)


def test_overlay_is_rgb_uint8_and_shows_the_heat():
    crop = np.full((S, S, 3), 128, np.uint8)
    heat = np.zeros((S, S), np.float32)
    heat[:50, :50] = 1.0
    out = overlay(crop, heat)
    assert out.shape == (S, S, 3) and out.dtype == np.uint8
    assert out[10, 10, 0] > 150 > 60 > out[10, 10, 1] == out[10, 10, 2]  # hot = red in RGB
    assert (out[200, 200] == 128).all()  # no heat: the crop untouched


def test_overlay_heat_is_in_proportion_to_the_score():
    """One absolute scale: the same heat pattern at P(fake) 0.05 is drawn far fainter than at 0.95."""
    crop = np.full((S, S, 3), 128, np.uint8)
    heat = np.zeros((S, S), np.float32)
    heat[:100, :100] = 1.0
    change = [np.abs(overlay(crop, heat, p).astype(int) - crop).mean() for p in (0.05, 0.5, 0.95)]
    assert change[0] < change[1] < change[2] and change[0] < 0.1 * change[2]


@pytest.mark.parametrize("method", ["gradcam", "layercam"])
def test_several_layers_average_their_maps_and_each_gets_its_gradient(method):
    """Maps of two layers are the (scaled) mean of each layer's own map: the graph restarts
    at the first layer only, so the earlier layer still receives its gradient."""
    x = torch.zeros(2, 3, 64, 64)
    x[:, 0, 4:20, 4:20] = 1.0
    x[1, 0, 30:40, 30:40] = 0.5
    x[:, 1, 40:60, 40:60] = 1.0
    model = RedIsFake()
    first, last = gradcam(model, model.features, x, method), gradcam(model, [model.act], x, method)
    both = gradcam(model, [model.features, model.act], x, method)
    mean = (first + last) / 2
    expected = (mean - mean.min((1, 2), keepdims=True)) / (mean.max((1, 2), keepdims=True) - mean.min((1, 2), keepdims=True))
    np.testing.assert_allclose(both, expected, atol=1e-4)
    assert first[0, 4:20, 4:20].mean() > 0.9 and first[0, 40:60, 40:60].max() == 0.0
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="gradcam"):
        gradcam(model, [], x)
