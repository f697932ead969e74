"""Explanation stage: Grad-CAM heatmaps for the single-logit detector, and where the heat is.

``gradcam`` opens a ``pytorch_grad_cam`` CAM only around the few crops it explains (hooks
are removed on exit, so plain scoring never stores activations) and passes the target
explicitly: ``BinaryClassifierOutputTarget(1)`` = evidence for *fake*. After Grad-CAM's ReLU a
crop with no positive evidence gives an all-zero map; ``region_shares`` then returns ``{}``.
The method (``CAM_METHODS``) and the layer(s) are settings of the weights (``cam`` and
``target_layer`` in config.json): several layers give one map each, min-max scaled and averaged.
``region_masks`` names face regions from the 6 BlazeFace keypoints (crop pixels).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .report import Heatmap

REGIONS = ("eyes", "nose", "mouth", "forehead", "cheeks_jaw", "background")


# name in config.json → class of pytorch_grad_cam. Only methods that need one backward pass:
# gradcam (channel weights = mean gradient), layercam (Jiang et al. 2021: per-pixel positive
# gradient x activation, meant for earlier, finer layers), hirescam (gradient x activation).
CAM_METHODS = {"gradcam": "GradCAM", "layercam": "LayerCAM", "hirescam": "HiResCAM"}
DEFAULT_CAM = "gradcam"


def gradcam(model: torch.nn.Module, layer: torch.nn.Module | Sequence[torch.nn.Module], x: torch.Tensor,
            method: str = DEFAULT_CAM, reshape=None) -> np.ndarray:
    """CAM of the fake logit for a preprocessed batch ``x`` (N, 3, S, S) → (N, S, S) in [0, 1].

    ``layer`` is one module or several (their maps are averaged); ``method`` a key of
    ``CAM_METHODS`` (an empty string is the default, Grad-CAM); ``reshape``: pytorch-grad-cam's
    reshape transform for layers that give tokens (a ViT's: ``Detector.cam_reshape``)."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

    method = method or DEFAULT_CAM
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; use one of {', '.join(CAM_METHODS)}")
    layers = [layer] if isinstance(layer, torch.nn.Module) else list(layer)
    if not layers:
        raise ValueError("gradcam needs at least one target layer")
    if len(x) == 0:
        return np.zeros((0,) + tuple(x.shape[-2:]), np.float32)
    targets = [BinaryClassifierOutputTarget(1) for _ in range(len(x))]
    was_training = model.training
    model.eval()
    # The CAM needs the gradient at its layers only, but BaseCAM calls loss.backward(), which
    # would run back through every layer for parameter gradients. With the parameters frozen
    # the layers before the first target layer record no graph, and the hook (registered before
    # the CAM's, so the CAM stores this tensor) starts the graph at the output of the first
    # target layer the forward pass reaches: backward then covers only what lies after it.
    # Same maps, a fraction of the time. Only the first one restarts the graph: restarting it at
    # a later layer too would cut the gradient of the earlier ones.
    started = [False]

    def start_graph(module, inputs, output):
        if started[0]:
            return None
        started[0] = True
        return output.detach().requires_grad_()

    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    hooks = [lay.register_forward_hook(start_graph) for lay in layers]
    try:
        with torch.enable_grad(), getattr(pytorch_grad_cam, CAM_METHODS[method])(model=model, target_layers=layers,
                                                                                  reshape_transform=reshape) as cam:
            maps = cam(input_tensor=x.float().contiguous(), targets=targets)
    finally:
        for h in hooks:
            h.remove()
        for p in frozen:
            p.requires_grad_(True)
        model.train(was_training)
    return np.nan_to_num(np.asarray(maps, np.float32))


def region_masks(keypoints: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Boolean (size, size) masks of named face regions, disjoint, covering the crop.

    Coordinates are aligned to the face: origin between the eyes, x along the eye line, unit =
    the distance between the eyes, so the regions turn and scale with the head.
    """
    kp = np.asarray(keypoints, np.float64)
    reye, leye, nose, mouth = kp[0], kp[1], kp[2], kp[3]
    mid = (reye + leye) / 2
    ex = leye - reye
    d = max(np.linalg.norm(ex), 1e-3)
    ux = ex / d
    uy = np.array([-ux[1], ux[0]])
    if np.dot(mouth - mid, uy) < 0:  # keep y pointing from the eyes towards the mouth
        uy = -uy
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5

    def aligned(p):
        return ((p[0] - mid[0]) * ux[0] + (p[1] - mid[1]) * ux[1]) / d, ((p[0] - mid[0]) * uy[0] + (p[1] - mid[1]) * uy[1]) / d

    u, v = aligned((xx, yy))
    (ru, rv), (lu, lv), (nu, nv), (mu, mv) = (aligned(p) for p in (reye, leye, nose, mouth))
    eyes = (np.hypot(u - ru, v - rv) < 0.33) | (np.hypot(u - lu, v - lv) < 0.33)
    nose_m = np.hypot(u - nu, (v - nv) * 0.8) < 0.3
    mouth_m = ((u - mu) / 0.55) ** 2 + ((v - mv) / 0.28) ** 2 < 1
    forehead = (v < -0.3) & (v > -1.1) & (np.abs(u) < 0.95)
    face_c = (nv + mv) / 2 * 0.5
    cheeks = ((u / 1.05) ** 2 + ((v - face_c) / (mv + 0.75 - face_c)) ** 2 < 1) & (v >= -0.3)
    out, taken = {}, np.zeros((size, size), bool)
    for name, m in (("eyes", eyes), ("nose", nose_m), ("mouth", mouth_m), ("forehead", forehead), ("cheeks_jaw", cheeks)):
        out[name] = m & ~taken
        taken |= m
    out["background"] = ~taken
    return out


def region_shares(heatmap: np.ndarray, keypoints: np.ndarray) -> dict[str, float]:
    """Share of the heat in each region (sums to 1), or ``{}`` when the map is all zero."""
    h = np.clip(np.asarray(heatmap, np.float64), 0, None)
    total = h.sum()
    if total <= 0 or not np.isfinite(total):
        return {}
    masks = region_masks(keypoints, h.shape[0])
    return {name: float(h[m].sum() / total) for name, m in masks.items()}


def top_region(shares: dict[str, float]) -> str:
    return max(shares, key=shares.get) if shares else "none"


OVERLAY_ALPHA = 0.65  # opacity of the hottest colour; colder pixels are more transparent


HEAT_RAMP = ((0.0, (255, 230, 40)), (0.5, (255, 140, 0)), (1.0, (210, 0, 0)))  # yellow → orange → red


def heat_colours(values: np.ndarray) -> np.ndarray:
    """RGB float32 colours of ``values`` in [0, 1] on ``HEAT_RAMP`` (shape ``values.shape + (3,)``)."""
    v = np.clip(np.asarray(values, np.float32), 0, 1)
    xs = [x for x, _ in HEAT_RAMP]
    return np.stack([np.interp(v, xs, [c[k] for _, c in HEAT_RAMP]) for k in range(3)], axis=-1).astype(np.float32)


def overlay(crop: np.ndarray, heatmap: np.ndarray, strength: float = 1.0, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """Heatmap over an RGB uint8 crop → RGB uint8, on one absolute scale.

    Each pixel shows ``v = heatmap × strength`` (clipped to [0, 1]) as a colour from yellow (little) to red (most) whose opacity
    is ``alpha × v``: no evidence leaves the crop untouched, and the analyzer passes the crop's
    fake probability as ``strength``, so a face scored 0.05 gets a map 20 times fainter than a
    face scored 1.0 with the same heat pattern (a per-map maximum would make both look alike).
    """
    v = np.clip(np.asarray(heatmap, np.float32) * float(np.clip(strength, 0.0, 1.0)), 0, 1)
    a = (alpha * v)[..., None]
    out = (1 - a) * crop.astype(np.float32) + a * heat_colours(v)
    return np.uint8(np.clip(np.round(out), 0, 255))


def colour_bar_stops(n: int = 6, background: int = 128, alpha: float = OVERLAY_ALPHA) -> list[tuple[float, str]]:
    """(value, "#rrggbb") stops of the colour scale of ``overlay`` as it looks over a mid-grey
    pixel: for a colour bar drawn beside the overlays (CSS gradient)."""
    values = np.linspace(0.0, 1.0, n)
    grey = np.full((n, 3), background, np.float32)
    shown = overlay(grey[None].astype(np.uint8), values[None], 1.0, alpha)[0]
    return [(float(v), "#%02x%02x%02x" % tuple(int(c) for c in rgb)) for v, rgb in zip(values, shown)]


def cam_maps(detector, check: str, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The CAM maps of ``check``'s score on RGB ``crops`` (a learned check: through its head,
    ``Detector.head_model``), and the learned maps beside the blending check's (weights with a
    mask head; None otherwise), from the same forward pass."""
    x = detector.preprocess(crops)
    # Grad-CAM and the feature capture change the shared model's state (hooks, requires_grad,
    # eval mode): analyses on other threads take turns here, scoring does not wait
    with detector.model_lock:
        if check in detector.learned_heads:
            return gradcam(detector.head_model(check), detector.cam_layers, x, detector.cam_method, detector.cam_reshape), None
        with detector.capturing_mask_features() as learned_maps:  # one forward pass for both maps
            maps = gradcam(detector.model, detector.cam_layers, x, detector.cam_method, detector.cam_reshape)
        return maps, (learned_maps() if learned_maps else None)


def heatmaps(chosen: list, maps: np.ndarray, masks: np.ndarray | None, scores: list[float], stem: str,
             check: str) -> tuple[list[Heatmap], dict[str, np.ndarray]]:
    """The report's heatmaps of the ``chosen`` (track_id, face sample) crops and their images by
    file name (``{stem}_face{N}_frame{index}.png``, the learned map's ``..._learned.png``). Every
    overlay is drawn on one scale: heat × the crop's score (``scores``) by the explained check."""
    out, images = [], {}
    for j, ((tid, s), m, p) in enumerate(zip(chosen, maps, scores)):
        shares = region_shares(m, s.keypoints)
        name = f"{stem}_face{tid + 1}_frame{s.index}.png"  # "face 1" = track 0
        images[name] = overlay(s.crop, m, p)
        learned = {}
        if masks is not None:
            learned = {"learned_map_mean": round(float(masks[j].mean()), 4),
                       "learned_map_shares": {r: round(v, 4) for r, v in region_shares(masks[j], s.keypoints).items()},
                       "learned_map_path": name.removesuffix(".png") + "_learned.png"}
            images[learned["learned_map_path"]] = overlay(s.crop, masks[j], p)
        out.append(Heatmap(tid, s.index, round(s.time_s, 3), p, {r: round(v, 4) for r, v in shares.items()},
                           top_region(shares), name, **learned, check=check))
    return out, images
