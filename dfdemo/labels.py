"""Which output of a classifier means "fake": its class labels read as fake or real.

A Hub classifier names its classes (transformers' ``id2label``, timm's ``label_names``):
``{0: "Real", 1: "Fake"}``, ``["bonafide", "spoof"]``, ``{0: "AI-generated", 1: "human"}``…
``fake_classes`` sorts each label by its words (``FAKE_WORDS`` / ``REAL_WORDS``, case-insensitive)
and refuses, listing the labels, when that is not clear-cut: a label that is neither or both,
no fake label, no real one. ``fake_label`` (a setting) overrides it: the fake classes by name or
index, comma-separated; every other class is real. A single-logit model needs no labels: its
one output is the fake logit, as dfdemo's own.

``dfdemo.foreign.FakeLogit`` turns the class logits into that one logit. Standard library only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .errors import WeightsError

FAKE_WORDS = frozenset({"fake", "fakes", "deepfake", "deepfakes", "manipulated", "manipulation", "spoof", "spoofed",
                        "spoofing", "ai", "generated", "synthetic", "synthesized", "forged", "forgery", "altered",
                        "artificial", "fabricated", "swapped", "faceswap"})
REAL_WORDS = frozenset({"real", "authentic", "bonafide", "genuine", "original", "pristine", "live", "human", "natural"})
NEGATIONS = frozenset({"not", "non", "no"})


@dataclass(frozen=True)
class FakeClasses:
    """The classes of a classifier read as fake or real; ``how`` says by what."""

    labels: tuple[str, ...]  # by class index ("" where the model names none)
    fake: tuple[int, ...]
    real: tuple[int, ...]
    how: str  # "single logit", "labels", "fake_label=…"

    @property
    def single_logit(self) -> bool:
        return self.how == "single logit"

    @property
    def fake_names(self) -> list[str]:
        return [self.labels[i] or str(i) for i in self.fake]


def side(label: str) -> str:
    """"fake", "real" or "" (unclear) for one class label, by its words."""
    words = re.findall(r"[a-z0-9]+", str(label).lower())
    if NEGATIONS & set(words):
        return ""
    joined = "".join(words)
    fake = bool(FAKE_WORDS & set(words)) or joined in FAKE_WORDS
    real = bool(REAL_WORDS & set(words)) or joined in REAL_WORDS
    return "fake" if fake and not real else "real" if real and not fake else ""


def fake_classes(labels: Sequence[str], num_classes: int, fake_label: str | None = None) -> FakeClasses:
    """Which of ``num_classes`` outputs are fake: a single logit is; else ``fake_label`` names
    them, else the labels' words do (module docstring). Unclear → WeightsError listing the labels."""
    names = tuple(str(x) for x in labels) if len(labels) == num_classes else ("",) * num_classes
    if num_classes == 1:
        return FakeClasses(names, (0,), (), "single logit")
    if num_classes < 1:
        raise WeightsError(f"the classifier has {num_classes} outputs")
    if fake_label:
        fake = _named(fake_label, names)
        return FakeClasses(names, fake, tuple(i for i in range(num_classes) if i not in fake), f"fake_label={fake_label}")
    sides = [side(n) for n in names]
    fake = tuple(i for i, s in enumerate(sides) if s == "fake")
    real = tuple(i for i, s in enumerate(sides) if s == "real")
    if "" in sides or not fake or not real:
        shown = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names)) if any(names) else f"{num_classes} unnamed classes"
        raise WeightsError(f"which output means fake is unclear from the labels ({shown}); "
                           "name the fake class(es) with fake_label= (a label or an index)")
    return FakeClasses(names, fake, real, "labels")


def _named(fake_label: str, names: tuple[str, ...]) -> tuple[int, ...]:
    """The class indices ``fake_label`` names (labels, case-insensitive, or indices; comma-separated)."""
    out = []
    lower = [n.lower() for n in names]
    for part in (p.strip() for p in str(fake_label).split(",") if p.strip()):
        if part.lower() in lower:
            out.append(lower.index(part.lower()))
        elif part.isdigit() and int(part) < len(names):
            out.append(int(part))
        else:
            shown = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names))
            raise WeightsError(f"fake_label={part!r} is none of the classifier's classes ({shown})")
    if len(set(out)) == len(names):
        raise WeightsError(f"fake_label={fake_label!r} names every class: nothing would be real")
    return tuple(sorted(set(out)))

