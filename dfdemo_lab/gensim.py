"""``python -m dfdemo_lab gensim``: the generator simulator, trained on real faces only.

A small convolutional autoencoder (one shared encoder, several decoders that differ only in
how they upsample: transposed convolution, nearest + conv, pixel shuffle) learns to redraw
real face crops. What it leaves behind in a face it redraws (decoder upsampling fingerprints,
generator-like smoothing of skin and hair) is what the synthesis check is trained to find:
its reconstructions of real faces are the "generated" class, the same real faces the "real"
class (AutoGAN, Zhang et al. 2019; AEROBLADE / DRCT use autoencoder reconstructions of real
images the same way). The loss is L1 plus a perceptual term on the early blocks of the
ImageNet EfficientNet, so the redrawn faces stay sharp and the synthesis head cannot get by
on blur alone. Output: ``DIR/gensim.safetensors`` + ``DIR/gensim.json``; resumable.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

UPSAMPLERS = ("tconv", "nearest", "shuffle")


@dataclass(frozen=True)
class SimConfig:
    width: int = 32          # channels at full resolution (x2 at 1/2, x4 at 1/4)
    latent: int = 16         # bottleneck channels at 1/4 resolution
    decoders: tuple[str, ...] = UPSAMPLERS


class _Res(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.b(F.leaky_relu(self.a(x), 0.2))


def _up(kind: str, cin: int, cout: int) -> nn.Module:
    if kind == "tconv":
        return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
    if kind == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1))
    if kind == "shuffle":
        return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2))
    raise ValueError(f"unknown upsampler {kind!r} (known: {', '.join(UPSAMPLERS)})")


class Decoder(nn.Module):
    def __init__(self, cfg: SimConfig, kind: str):
        super().__init__()
        w = cfg.width
        self.body = nn.Sequential(nn.Conv2d(cfg.latent, 4 * w, 3, padding=1), _Res(4 * w), _Res(4 * w))
        self.up1, self.up2 = _up(kind, 4 * w, 2 * w), _up(kind, 2 * w, w)
        self.out = nn.Conv2d(w, 3, 3, padding=1)

    def forward(self, z):
        x = self.body(z)
        x = F.leaky_relu(self.up1(x), 0.2)
        x = F.leaky_relu(self.up2(x), 0.2)
        return self.out(x)


class Simulator(nn.Module):
    """Shared encoder (to 1/4 resolution) + one decoder per upsampler; images in [-1, 1]."""

    def __init__(self, cfg: SimConfig = SimConfig()):
        super().__init__()
        w = cfg.width
        self.cfg = cfg
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            _Res(4 * w), _Res(4 * w), nn.Conv2d(4 * w, cfg.latent, 3, padding=1))
        self.decoders = nn.ModuleDict({k: Decoder(cfg, k) for k in cfg.decoders})

    def forward(self, x: torch.Tensor, kind: str) -> torch.Tensor:
        return self.decoders[kind](self.encoder(x))


def to_tensor(imgs: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return x.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()


@torch.inference_mode()
def redraw(sim: Simulator, imgs: np.ndarray, kind: str) -> np.ndarray:
    """The simulator's redrawing of uint8 RGB images (sides divisible by 4) with one decoder."""
    return to_uint8(sim(to_tensor(imgs), kind))


def save(sim: Simulator, folder: Path, meta: dict) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in sim.state_dict().items()}, str(folder / "gensim.safetensors"))
    (folder / "gensim.json").write_text(json.dumps({"config": asdict(sim.cfg), **meta}, indent=2) + "\n")


def load(folder: Path) -> tuple[Simulator, dict]:
    from safetensors.torch import load_file

    meta = json.loads((folder / "gensim.json").read_text())
    c = meta["config"]
    sim = Simulator(SimConfig(c["width"], c["latent"], tuple(c["decoders"])))
    sim.load_state_dict(load_file(str(folder / "gensim.safetensors")))
    return sim.eval(), meta


class Perceptual(nn.Module):
    """Distance between early-block activations of the ImageNet EfficientNet (frozen)."""

    def __init__(self, pretrained: Path | None):
        super().__init__()
        import timm

        net = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
        if pretrained is not None and pretrained.is_file():
            sd = torch.load(pretrained, map_location="cpu", weights_only=True)
            net.load_state_dict({k: v for k, v in sd.items() if not k.startswith("classifier.")}, strict=False)
        self.stem = nn.Sequential(net.conv_stem, net.bn1)
        self.blocks = nn.ModuleList(net.blocks[:3])
        self.requires_grad_(False).eval()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x, y, loss = self.stem(a), self.stem(b), 0.0
        for blk in self.blocks:
            x, y = blk(x), blk(y)
            loss = loss + F.l1_loss(x, y)
        return loss


def patches(crops, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, size, size, 3), np.uint8)
    for k in range(n):
        img = crops.image(int(rng.integers(len(crops.names))))
        y, x = rng.integers(0, img.shape[0] - size + 1), rng.integers(0, img.shape[1] - size + 1)
        out[k] = img[y:y + size, x:x + size]
        if rng.random() < 0.5:
            out[k] = out[k, :, ::-1]
    return out


def main(argv: list[str] | None = None) -> None:
    from .data import CropSet
    from .errors import require_cache, require_pretrained

    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab gensim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("cache/faces"))
    ap.add_argument("--out", type=Path, default=Path("runs/gensim"))
    ap.add_argument("--minutes", type=float, default=15.0, help="train for this long (wall clock), then save")
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--perceptual", type=float, default=0.5)
    ap.add_argument("--pretrained", type=Path, help="the ImageNet state dict of tf_efficientnet_lite0 (the perceptual loss's "
                    "network), e.g. ../shared/pretrained/timm_tf_efficientnet_lite0_imagenet.pth (required: no default path)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    require_cache(a.cache)
    pretrained = require_pretrained(a.pretrained)
    crops = CropSet.load(a.cache, "train")
    rng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)
    sim, step, meta = Simulator(), 0, {}
    if (a.out / "gensim.json").is_file():
        sim, meta = load(a.out)
        step = int(meta.get("steps", 0))
        print(f"resuming at step {step}", flush=True)
    sim.train()
    perc = Perceptual(pretrained)
    step, losses = fit(sim, perc, crops, rng, a, step)
    save(sim, a.out, {"steps": step, "loss": float(np.mean(losses[-50:])), "patch": a.patch, "batch": a.batch,
                      "perceptual": a.perceptual})
    print(f"saved {a.out} after {step} steps, loss {np.mean(losses[-50:]):.4f}", flush=True)


def fit(sim: Simulator, perc: Perceptual, crops, rng: np.random.Generator, a, step: int) -> tuple[int, list[float]]:
    """Adam on every decoder's L1 + perceptual loss over random patches for ``--minutes``; a
    checkpoint (``save``) and a progress line every minute. Returns (steps done, losses)."""
    opt = torch.optim.Adam(sim.parameters(), lr=2e-4, betas=(0.5, 0.99))
    t0, last, losses = time.time(), time.time(), []
    while time.time() - t0 < a.minutes * 60:
        x = to_tensor(patches(crops, a.batch, a.patch, rng))
        z = sim.encoder(x)
        loss = 0.0
        for kind in sim.cfg.decoders:
            y = sim.decoders[kind](z)
            loss = loss + F.l1_loss(y, x) + a.perceptual * perc(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        losses.append(loss.item() / len(sim.cfg.decoders))
        if time.time() - last > 60:
            print(f"step {step}: loss {np.mean(losses[-50:]):.4f} ({time.time() - t0:.0f} s)", flush=True)
            last = time.time()
            save(sim, a.out, {"steps": step, "loss": float(np.mean(losses[-50:]))})
    return step, losses


if __name__ == "__main__":
    main()
