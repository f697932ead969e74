"""Self-blending as pure numpy/OpenCV functions: what the product's example fake and the lab's
Self-Blended Images training (``dfdemo_lab.sbi``) both use.

A self-blended fake pastes a colour- and quality-transformed copy of a face back into the
untouched image through a soft mask: the traces of blending (boundary, colour mismatch,
resampling) without any deepfake tool. All functions take RGB uint8 (H, W, 3) images and a
``numpy.random.Generator``; masks are float32 (H, W) in [0, 1]. No torch, no mediapipe.
"""
from __future__ import annotations

import cv2
import numpy as np


def color_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random RGB shift, hue/saturation/value shift and brightness/contrast."""
    x = img.astype(np.float32)
    x += rng.uniform(-20, 20, 3).astype(np.float32)
    hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180
    hsv[..., 1:] *= rng.uniform(0.8, 1.2, 2).astype(np.float32)
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    x = (x - 128) * rng.uniform(0.85, 1.15) + 128 + rng.uniform(-20, 20)
    return np.clip(x, 0, 255).astype(np.uint8)


def resample(img: np.ndarray, scale: float, up: int) -> np.ndarray:
    """``img`` shrunk by ``scale`` (area averaging, at least 8 px a side) and enlarged back to
    its size with the OpenCV interpolation ``up``: the detail a smaller picture lacks."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=up)


def quality_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resample (down then up), sharpen or blur: the resolution mismatch of a pasted face."""
    r = rng.random()
    if r < 0.5:
        s = rng.uniform(0.4, 0.9)
        return resample(img, s, [cv2.INTER_LINEAR, cv2.INTER_CUBIC][int(rng.integers(2))])
    if r < 0.8:
        blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.5))
        return cv2.addWeighted(img, 1 + rng.uniform(0.3, 1.0), blur, -rng.uniform(0.3, 1.0), 0)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))


def composite(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source`` pasted into ``target`` (RGB uint8, same shape) through ``mask`` (float32 (H, W)
    in [0, 1]): ``source * mask + target * (1 - mask)``, rounded to uint8."""
    m3 = mask[..., None]
    fake = source.astype(np.float32) * m3 + target.astype(np.float32) * (1 - m3)
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8)


def face_mask(keypoints: np.ndarray, shape: tuple[int, int], blur: float = 0.25) -> np.ndarray:
    """Soft ellipse (float32 [0, 1], ``shape`` = (H, W)) over eyes, nose and mouth.

    ``keypoints``: the 6 BlazeFace points in pixels (right eye, left eye, nose tip, mouth, ...).
    The ellipse follows the eye line; its edge is blurred over ``blur`` x the eye distance.
    """
    kp = np.asarray(keypoints, np.float64)
    reye, leye, mouth = kp[0], kp[1], kp[3]
    eye_mid = (reye + leye) / 2
    d = max(float(np.linalg.norm(leye - reye)), 2.0)
    centre = (eye_mid + mouth) / 2
    half_w = 1.0 * d
    half_h = float(np.linalg.norm(mouth - eye_mid)) / 2 + 0.55 * d
    angle = float(np.degrees(np.arctan2(leye[1] - reye[1], leye[0] - reye[0])))
    mask = np.zeros(shape, np.float32)
    cv2.ellipse(mask, (round(centre[0]), round(centre[1])), (round(half_w), round(half_h)), angle, 0, 360, 1.0, -1)
    k = int(blur * d) * 2 + 1
    return np.clip(cv2.GaussianBlur(mask, (k, k), 0), 0, 1)


def blended_fake(img: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A self-blended fake of the RGB uint8 ``img``: returns (fake uint8, mask float32 [0, 1]).

    As in the lab's ``dfdemo_lab.sbi.self_blend``: the source is a colour- and quality-transformed copy of
    the image, blended into the untouched image through the soft face mask.
    """
    mask = face_mask(keypoints, img.shape[:2])
    source = quality_transform(color_transform(img, rng), rng)
    return composite(source, img, mask), mask
