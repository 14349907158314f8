"""The claim "without a nonlinearity the stack is one linear layer", measured on a split."""
import pytest
import torch

from core import data as D
from core.i18n import LessonError
from core.linearity import fold_check, model_kind, newest_of_each_kind
from core.models import MLP
from core.train import TrainConfig

DIGITS = D.TensorSplit(torch.rand(300, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (300,)))  # random "digits"


@pytest.mark.parametrize("hidden,batchnorm", [((), False), ((32,), False), ((128, 64), True),
                                              ((64, 64, 64, 64), False), ((64, 64, 64, 64), True)])
def test_the_folded_layer_gives_the_networks_outputs_and_answers(hidden, batchnorm):
    model = MLP(batchnorm=batchnorm, hidden=hidden, activation="none")
    for m in model.modules():  # statistics of its own, as after training
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    check = fold_check(model.eval(), DIGITS, batch_size=128)  # in batches: the largest difference of all of them
    assert 0 <= check.max_difference < 1e-5 and check.samples == 300 and check.batchnorm == batchnorm
    assert check.folded_accuracy == check.network_accuracy
    with torch.no_grad():
        right = (model(DIGITS.x).argmax(1) == DIGITS.y).float().mean().item()
    assert check.network_accuracy == pytest.approx(right)


def test_a_model_in_training_mode_is_checked_in_evaluation_mode_and_left_as_it_was():
    model = MLP(dropout=0.5, hidden=(64,), activation="none").train()
    assert fold_check(model, DIGITS).max_difference < 1e-5 and model.training


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_a_stack_with_a_nonlinearity_is_refused(activation):
    with pytest.raises(LessonError) as err:
        fold_check(MLP(hidden=(32,), activation=activation), DIGITS)
    assert err.value.key == "fold_nonlinear"


def test_runs_are_sorted_into_the_claims_kinds_newest_of_each():
    def run(name, acc, **settings):
        return name, TrainConfig(**settings), acc

    assert model_kind(TrainConfig(hidden=(), activation="tanh")) == "no_hidden"  # nothing to activate
    assert model_kind(TrainConfig(activation="none")) == "linear_stack"
    assert model_kind(TrainConfig()) == "relu_stack"
    assert model_kind(TrainConfig(activation="sigmoid")) is None and model_kind(TrainConfig(model="cnn")) is None
    runs = [run("Run 1", 0.90, hidden=()), run("Run 2", 0.93), run("Run 3", 0.91, activation="tanh"),
            run("Run 4", 0.94), run("Run 5", 0.88, hidden=(64,), activation="none")]
    found = newest_of_each_kind(runs)
    assert list(found) == ["no_hidden", "linear_stack", "relu_stack"]
    assert [found[k][0] for k in found] == ["Run 1", "Run 5", "Run 4"]
    assert newest_of_each_kind([]) == {}
