"""Labelled real and fake media for the supervised checks, with their sources and folds.

The blending check learns from real faces only (self-blending). The other kinds of evidence
are learned from real outputs of generators: generated stills (StyleGAN-like faces) and
lip-sync / face-animation clips (Wav2Lip and forks, FOMM, SadTalker-style heads). Every file
here carries its *source* (the repository or dataset it came from) and a *fold*: one source is
never in two folds, so a number measured on fold k comes from a model that never saw anything of
that file's source (out of fold). What the sources are:

- a file's repository (``provenance*.csv`` / ``manifest.csv``), joined with the dataset its
  method names (FF++, DFDC, Celeb-DF): two files sharing either are one source;
- FFHQ portraits (``real-faces/ffhq`` and the dev-eval's FFHQ reals) are independent photos of
  one dataset: each is its own source, so the portraits are split over the folds (as the issue
  asks, so that every fold has sharp real portraits to learn from and to be judged on);
- LFW: the person.

Families (what a check learns): ``generated`` (a face drawn whole by a GAN or diffusion model),
``animation`` (lip-sync and face animation: the mouth or the whole face redrawn frame by
frame), ``swap`` (face swaps and reenactment: the blending check's kind), ``real``.
Pure Python over the CSV files: no torch, testable without the media.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import require_shared

FAMILIES = ("generated", "animation", "swap", "real")
ANIMATION_WORDS = ("wav2lip", "latentsync", "fomm", "first order motion", "speech-driven", "talklip", "lip-sync",
                   "lipsync", "sadtalker", "kdtalker", "hyperlips", "talking", "co-part", "spatio-temporal talking")
GENERATED_WORDS = ("stylegan", "r3gan", "diffusion", "gan (", "thispersondoesnotexist", "ip-adapter")
DATASETS = (("ff++", "FF++"), ("faceforensics", "FF++"), ("dfdc", "DFDC"), ("celeb-df", "Celeb-DF"))
FOLDS = 5


@dataclass(frozen=True)
class Item:
    """One labelled file: where it is, what it is, where it came from."""

    path: str  # absolute
    label: int  # 1 = fake
    kind: str  # "video" or "image"
    family: str  # FAMILIES
    method: str
    origin: str  # the collection: "dev-eval/synthesis", "train-media", "ffhq", "lfw", "real-videos/more", …
    source: str  # repository / dataset / person (see the module docstring)
    fold: int = -1


def family_of(label: str, method: str) -> str:
    """A fake's family from its method's name (``real`` for a real file)."""
    if label == "real":
        return "real"
    m = method.lower()
    if any(w in m for w in GENERATED_WORDS):
        return "generated"
    if any(w in m for w in ANIMATION_WORDS):
        return "animation"
    return "swap"


def dataset_of(method: str, folder: str) -> str | None:
    text = f"{method} {folder}".lower()
    return next((name for key, name in DATASETS if key in text), None)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _provenance(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    """file (relative to ``folder``) → repository, from the provenance files that exist."""
    out = {}
    for name in names:
        if (folder / name).is_file():
            out.update({r["file"]: r["repo"] for r in _rows(folder / name)})
    return out


def dev_eval_items(shared: Path) -> list[Item]:
    root = require_shared(shared, "data", "dev-eval")
    repos = _provenance(root, ("provenance-generated.csv", "provenance-added.csv"))
    items = []
    for r in _rows(root / "index.csv"):
        folder = Path(r["path"]).parent.name
        fam = family_of(r["label"], r["method"])
        if r["label"] == "real" and "ffhq" in r["method"].lower():
            source = f"FFHQ:{Path(r['path']).stem}"
        else:
            source = " + ".join(s for s in (repos.get(r["path"]), dataset_of(r["method"], folder)) if s) or f"dev-eval/{folder}"
        items.append(Item(str((root / r["path"]).resolve()), int(r["label"] == "fake"), r["kind"], fam, r["method"],
                          f"dev-eval/{folder}", source))
    return items


def train_media_items(shared: Path) -> list[Item]:
    root = require_shared(shared, "data", "train-media")
    repos = _provenance(root, ("provenance.csv",))
    return [Item(str((root / r["path"]).resolve()), int(r["label"] == "fake"), r["kind"], family_of(r["label"], r["method"]),
                 r["method"], "train-media",
                 " + ".join(s for s in (repos.get(r["path"]), dataset_of(r["method"], "")) if s) or f"train-media:{r['path']}")
            for r in _rows(root / "index.csv")]


def ffhq_items(shared: Path) -> list[Item]:
    root = require_shared(shared, "data", "real-faces", "ffhq")
    return [Item(str(p.resolve()), 0, "image", "real", "FFHQ photo", "ffhq", f"FFHQ:{p.stem}")
            for p in sorted(root.glob("*.jpg"))]


def lfw_items(shared: Path, people: int, seed: str = "lfw") -> list[Item]:
    """The first photo of ``people`` LFW people, chosen by a hash of the name (stable, spread)."""
    root = require_shared(shared, "data", "real-faces", "lfw")
    names = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: hashlib.sha1(f"{seed}{d.name}".encode()).hexdigest())
    out = []
    for d in names[:people]:
        photos = sorted(d.glob("*.jpg"))
        if photos:
            out.append(Item(str(photos[0].resolve()), 0, "image", "real", "LFW photo", "lfw", f"LFW:{d.name}"))
    return out


def real_clip_items(shared: Path) -> list[Item]:
    root = require_shared(shared, "data", "real-videos")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        repos = {r["file"]: r.get("repo", "") for r in _rows(sub / "manifest.csv")} if (sub / "manifest.csv").is_file() else {}
        for p in sorted(sub.glob("*.mp4")):
            repo = repos.get(p.name) or ("KwaiVGI/LivePortrait" if sub.name == "liveportrait" else f"real-videos/{sub.name}")
            out.append(Item(str(p.resolve()), 0, "video", "real", "real clip", f"real-videos/{sub.name}", repo))
    return out


def collect(shared: str | Path | None, lfw_people: int = 600) -> list[Item]:
    """Every labelled file the supervised checks learn from and are measured on, with folds."""
    shared = require_shared(shared)
    items = dev_eval_items(shared) + train_media_items(shared) + ffhq_items(shared) + real_clip_items(shared)
    items += lfw_items(shared, lfw_people) if lfw_people else []
    return assign_folds(items)


class _Groups:
    """Union-find over source names: "A + B" joins A and B."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, names: list[str]) -> str:
        roots = [self.find(n) for n in names]
        for r in roots[1:]:
            self.parent[r] = roots[0]
        return self.find(roots[0])


def assign_folds(items: list[Item], k: int = FOLDS) -> list[Item]:
    """Deal whole source groups to ``k`` folds, largest group first, each to the fold that has
    the fewest items of that group's commonest (label, family), so every fold gets some of each."""
    groups = _Groups()
    for it in items:
        groups.join(it.source.split(" + "))
    members: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        members.setdefault(groups.find(it.source.split(" + ")[0]), []).append(i)
    counts: list[dict[tuple[int, str], int]] = [{} for _ in range(k)]
    fold_of: dict[str, int] = {}
    for g in sorted(members, key=lambda g: (-len(members[g]), g)):
        keys = [(items[i].label, items[i].family) for i in members[g]]
        main = max(sorted(set(keys)), key=keys.count)  # a tie goes to the first in order, not to the set's (hash-seeded) order
        f = min(range(k), key=lambda f: (counts[f].get(main, 0), sum(counts[f].values()), f))
        fold_of[g] = f
        for key in keys:
            counts[f][key] = counts[f].get(key, 0) + 1
    from dataclasses import replace

    return [replace(it, fold=fold_of[groups.find(it.source.split(" + ")[0])]) for it in items]


def source_groups(items: list[Item]) -> dict[str, set[int]]:
    """Each joined source group and the folds its files are in (one fold each when the split holds)."""
    groups = _Groups()
    for it in items:
        groups.join(it.source.split(" + "))
    out: dict[str, set[int]] = {}
    for it in items:
        for s in it.source.split(" + "):
            out.setdefault(s, set()).add(it.fold)
    return out
