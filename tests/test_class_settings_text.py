"""The class wall names each run's model by its shape, not just "MLP"."""
import pytest

from core.train import TrainConfig
from ui.class_wall import model_text


@pytest.mark.parametrize("settings, shown", [
    ({}, "MLP 784 → 128 → 64 → 10 ReLU"),  # the lesson's
    ({"hidden": (256, 128, 64), "activation": "tanh"}, "MLP 784 → 256 → 128 → 64 → 10 tanh"),
    ({"hidden": (), "activation": "sigmoid"}, "MLP 784 → 10"),  # one linear layer: no activation function applies
    ({"hidden": (64,), "activation": "none"}, "MLP 784 → 64 → 10 none (linear)"),
    ({"model": "cnn"}, "CNN"),
])
def test_the_model_is_named_with_its_shape_and_activation(settings, shown):
    assert model_text(TrainConfig(**settings)) == shown
