"""Classroom presets: valid settings that differ in one idea, and what they tell the learner to watch."""
import pytest

from core.i18n import t
from core.presets import PRESETS, preset_config, updates_per_epoch
from core.train import TrainConfig


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_is_two_valid_runs_that_keep_the_learners_other_choices(name):
    a, b = (preset_config(name, v, seed=7, loader="dataloader") for v in (0, 1))
    assert a != b and a.seed == b.seed == 7 and a.loader == b.loader == "dataloader"
    assert isinstance(a, TrainConfig) and a.patience == 0


def test_the_batch_size_presets_update_counts_follow_the_data_in_use():
    assert updates_per_epoch("batch_size", 8_000) == (2_000, 32)  # the bundled sample
    assert updates_per_epoch("batch_size", 54_000) == (13_500, 211)  # full MNIST less its validation set
    assert updates_per_epoch("overfitting", 54_000) == (10, 10)  # 300 samples whatever the data
    hint = t("lab.preset_batch_size_watch", "en", a="13,500", b="211")
    assert "Batch 4 makes 13,500 updates per epoch" in hint and "only 211 updates" in hint
