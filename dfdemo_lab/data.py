"""The lab's data recipes: the crop cache read as splits (``CropSet``), the self-blended pairs
made from it (``make_pair``, drawn by ``BlendMix``), the endless training stream
(``PairStream``), the fixed held-out pairs (``validation_set``) and the network's batch of a pair
set (``to_batch``). Training, calibration, explanation measures and the generator simulator all
read their faces through here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from dfdemo.detector import normalise
from .cache import CACHE_MARGIN
from .errors import LabError, require_cache
from .sbi import BLEND_KINDS, align_to, reframe, self_blend, video_degrade


@dataclass(frozen=True)
class CropSet:
    """The cache index restricted to one split; images are read lazily from ``folder``."""

    folder: Path
    names: np.ndarray
    landmarks: np.ndarray
    is_video: np.ndarray
    groups: np.ndarray  # clip or LFW person of each crop

    @classmethod
    def load(cls, cache: Path, split: str) -> "CropSet":
        d = np.load(require_cache(cache))
        keep = d["split"] == split
        return cls(cache / "crops", d["name"][keep], d["landmarks"][keep], d["kind"][keep] == "video", d["group"][keep])

    def neighbours(self, i: int, within: int = 3) -> np.ndarray:
        """Other crops of the same clip at most ``within`` cache frames away (names sort by frame)."""
        same = np.flatnonzero(self.groups == self.groups[i])
        pos = int(np.searchsorted(same, i))
        near = same[max(0, pos - within): pos + within + 1]
        return near[near != i]

    def image(self, i: int) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(self.folder / self.names[i])), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class BlendMix:
    """Which self-blends training draws: a probability per region (``BLEND_KINDS``) and the
    share of video pairs whose source is another, landmark-aligned frame of the same clip."""

    kinds: tuple[tuple[str, float], ...] = (("face", 1.0),)
    cross_frame: float = 0.0

    @classmethod
    def parse(cls, kinds: str, cross_frame: float) -> "BlendMix":
        """``"face:0.5,lower:0.2,eyes:0.15,inner:0.15"`` → BlendMix (weights normalised)."""
        pairs = []
        for part in filter(None, kinds.split(",")):
            name, _, w = part.partition(":")
            if name not in BLEND_KINDS:
                raise LabError(f"--blend-kinds: unknown kind {name!r} (known: {', '.join(BLEND_KINDS)})")
            pairs.append((name, float(w or 1)))
        total = sum(w for _, w in pairs)
        return cls(tuple((n, w / total) for n, w in pairs), cross_frame)

    def draw(self, rng: np.random.Generator) -> str:
        names, weights = zip(*self.kinds)
        return names[int(rng.choice(len(names), p=np.asarray(weights)))]


def make_pair(crops: CropSet, i: int, rng: np.random.Generator, size: int, margin: float,
              train: bool, strong_degrade: bool | str = False, mix: BlendMix = BlendMix(),
              kind: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real, fake, mask) at the inference framing: both sides get the same framing, flip and
    independent video degradations, so the only systematic difference is the blend.
    ``kind`` fixes the blended region; otherwise it is drawn from ``mix``."""
    img = crops.image(i)
    kind = kind or mix.draw(rng)
    source = None
    if mix.cross_frame and crops.is_video[i] and rng.random() < mix.cross_frame:
        near = crops.neighbours(i)
        if len(near):
            j = int(rng.choice(near))
            source = align_to(crops.image(j), crops.landmarks[j], crops.landmarks[i])
    fake, mask = self_blend(img, crops.landmarks[i], rng, kind, source)
    if train and rng.random() < 0.5:
        img, fake, mask = img[:, ::-1], fake[:, ::-1], mask[:, ::-1]
    state = rng.bit_generator.state
    real = reframe(np.ascontiguousarray(img), CACHE_MARGIN, margin, size, rng if train else None)
    rng.bit_generator.state = state  # the same jitter for the fake and its mask
    fake = reframe(np.ascontiguousarray(fake), CACHE_MARGIN, margin, size, rng if train else None)
    rng.bit_generator.state = state
    mask = reframe(np.ascontiguousarray(mask), CACHE_MARGIN, margin, size, rng if train else None)
    return video_degrade(real, rng, strong_degrade), video_degrade(fake, rng, strong_degrade), mask


class PairStream(IterableDataset):
    """Endless stream of (real, fake) pairs; ``video_share`` of them from video frames."""

    def __init__(self, crops: CropSet, size: int, margin: float, seed: int, video_share: float, strong_degrade: bool | str = False,
                 mix: BlendMix = BlendMix(), weights: np.ndarray | None = None):
        self.crops, self.size, self.margin, self.seed, self.video_share = crops, size, margin, seed, video_share
        self.strong_degrade, self.mix, self.weights = strong_degrade, mix, weights

    def __iter__(self):
        wi = get_worker_info()
        rng = np.random.default_rng([self.seed, wi.id if wi else 0])
        vid = np.flatnonzero(self.crops.is_video)
        pho = np.flatnonzero(~self.crops.is_video)
        while True:
            pool = vid if (len(pho) == 0 or (len(vid) and rng.random() < self.video_share)) else pho
            p = None if self.weights is None else self.weights[pool] / self.weights[pool].sum()
            i = int(rng.choice(pool, p=p))
            yield make_pair(self.crops, i, rng, self.size, self.margin, train=True, strong_degrade=self.strong_degrade, mix=self.mix)


def to_batch(reals: torch.Tensor, fakes: torch.Tensor, mean, std) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.cat([torch.zeros(len(reals)), torch.ones(len(fakes))])
    return normalise(torch.cat([reals, fakes]), mean, std), y


def validation_set(crops: CropSet, n: int, size: int, margin: float, seed: int = 1234, kind: str = "face",
                   cross_frame: bool = False):
    """Fixed held-out pairs of one blend kind (``cross_frame``: sources from other frames of the
    clip, video crops only); the default (whole face, seed 1234) is the v1/v2 validation set."""
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(crops.is_video) if cross_frame else np.arange(len(crops.names))
    idx = rng.choice(pool, min(n, len(pool)), replace=False)
    mix = BlendMix(((kind, 1.0),), 1.0 if cross_frame else 0.0)
    pairs = [make_pair(crops, int(i), rng, size, margin, train=False, mix=mix, kind=kind) for i in idx]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), crops.is_video[idx], np.stack([p[2] for p in pairs])
