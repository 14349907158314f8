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


def test_the_gradient_descent_and_zero_grad_presets_differ_in_their_one_idea():
    assert updates_per_epoch("gradient_descent", 8_000) == (1, 125)  # the whole set at once, or minibatches of 64
    assert updates_per_epoch("gradient_descent", 54_000) == (1, 844)
    full, mini = preset_config("gradient_descent", 0), preset_config("gradient_descent", 1)
    assert full.batch_size == "all" and mini.batch_size == 64 and full.optimizer == mini.optimizer == "sgd"
    normal, forgotten = preset_config("zero_grad", 0), preset_config("zero_grad", 1)
    assert normal.zero_grad and not forgotten.zero_grad and normal == TrainConfig(**{**vars(forgotten), "zero_grad": True})
    hint = t("lab.preset_gradient_descent_watch", "en", a="1", b="125")
    assert "makes 1 update per epoch" in hint and "125 updates per epoch" in hint
