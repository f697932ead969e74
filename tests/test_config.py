"""One typed config: the bundled config.json loads and saves unchanged, and every writer's
change goes through ``update_config`` (records merged, the rest kept)."""
from __future__ import annotations

import json
import shutil

from conftest import ROOT

from dfdemo.config import Cut, MaskHeadConfig, load_config, manual_cut, save_config, update_config

BUNDLED = ROOT / "weights" / "detector"


def test_the_bundled_config_round_trips_unchanged(tmp_path):
    cfg = load_config(BUNDLED)
    assert isinstance(cfg.mask_head, MaskHeadConfig) and cfg.mask_head.layers == ["blocks.4", "bn2"]
    assert cfg.temporal is None and cfg.cut("video") == Cut(cfg.threshold, tuple(cfg.uncertain_band))
    save_config(tmp_path, cfg)
    assert (tmp_path / "config.json").read_text() == (BUNDLED / "config.json").read_text()


def test_update_config_merges_records_and_keeps_the_rest(tmp_path):
    shutil.copy2(BUNDLED / "config.json", tmp_path / "config.json")
    before = json.loads((tmp_path / "config.json").read_text())
    update_config(tmp_path, {"accuracy": {"auc": 0.5}}, threshold=0.9)
    after = json.loads((tmp_path / "config.json").read_text())
    assert after["dfdemo"]["threshold"] == 0.9 and after["dfdemo"]["extra"]["accuracy"] == {"auc": 0.5}
    assert after["dfdemo"]["extra"]["faithfulness"] == before["dfdemo"]["extra"]["faithfulness"]
    after["dfdemo"]["threshold"], after["dfdemo"]["extra"]["accuracy"] = before["dfdemo"]["threshold"], before["dfdemo"]["extra"]["accuracy"]
    assert after == before


def test_a_threshold_set_by_hand_gets_the_manual_band():
    assert manual_cut(0.5) == Cut(0.5, (0.45, 0.55)) and manual_cut(0.02).band == (0.0, 0.07)


def test_the_mouth_is_read_on_every_frame_unless_the_config_says_otherwise():
    """``animation.mouth_every``: absent in older weights (every sampled frame, as they were
    learned), written only when it is not 1, and a value under 1 refused with one clear line."""
    import pytest

    from dfdemo.config import SynthesisConfig
    from dfdemo.errors import WeightsError

    head = {"layers": ["a"], "dims": 4, "unit": "track", "media": ["video"], "mouth_px": 112}
    assert SynthesisConfig.from_dict(head).mouth_every == 1
    every2 = SynthesisConfig.from_dict({**head, "mouth_every": 2})
    assert every2.mouth_every == 2 and every2.to_dict()["mouth_every"] == 2
    assert "mouth_every" not in SynthesisConfig.from_dict(head).to_dict()
    with pytest.raises(WeightsError, match="mouth_every must be 1 or more"):
        SynthesisConfig.from_dict({**head, "mouth_every": 0})
