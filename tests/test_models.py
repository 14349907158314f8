import pytest
import torch

from core.i18n import LessonError, t
from core.models import (CNN, MLP, build_model, count_parameters, first_layer_activity, first_layer_filters,
                         fold_linear, hidden_text, parameter_count, parse_hidden, shape_text)


def test_lesson_mlp_has_the_lessons_parameter_count():
    # 784·128+128 + 128·64+64 + 64·10+10
    assert count_parameters(MLP()) == 109_386
    assert count_parameters(MLP(dropout=0.5)) == 109_386
    assert count_parameters(MLP(batchnorm=True)) == 109_386 + 2 * (128 + 64)


def test_models_map_a_batch_of_digits_to_ten_logits():
    x = torch.randn(5, 1, 28, 28)
    for name in ("mlp", "cnn"):
        for bn in (False, True):
            assert build_model(name, 0.2, bn)(x).shape == (5, 10)


def test_dropout_is_on_in_train_mode_and_off_in_eval_mode():
    x = torch.randn(8, 1, 28, 28)
    for model in (MLP(dropout=0.5), CNN(dropout=0.5)):
        model.train()
        assert not torch.equal(model(x), model(x))  # fresh masks each call
        model.eval()
        assert torch.equal(model(x), model(x))
    plain = MLP()
    plain.train()
    assert torch.equal(plain(x), plain(x))


def test_first_layer_filters_are_the_weights_laid_out_as_pictures():
    mlp, cnn = MLP(), CNN()
    filters = first_layer_filters(mlp)
    assert filters.shape == (128, 28, 28)
    assert torch.equal(filters[5].flatten(), mlp.fc1.weight[5])  # unit 5's weights, pixel for pixel
    filters[0, 0, 0] = 123.0  # a copy: drawing it never touches the model
    assert mlp.fc1.weight[0, 0] != 123.0
    assert first_layer_filters(cnn).shape == (16, 3, 3)


def test_a_unit_that_never_fires_is_counted_dead():
    mlp = MLP().eval()
    x = torch.randn(50, 1, 28, 28)
    assert first_layer_activity(mlp, x).shape == (128,)
    with torch.no_grad():
        mlp.fc1.bias[:3] = -1e3  # these three can never rise above 0
        mlp.fc1.bias[3] = 1e3  # this one always fires
    activity = first_layer_activity(mlp, x)
    assert (activity[:3] == 0).all() and activity[3] == 1 and ((activity[4:] > 0) & (activity[4:] < 1)).all()
    assert torch.allclose(first_layer_activity(mlp, x, batch_size=7), activity)  # batches change nothing
    cnn = CNN().eval()
    assert torch.allclose(first_layer_activity(cnn, x, batch_size=7), first_layer_activity(cnn, x))
    assert first_layer_activity(cnn, x).shape == (16,)


def test_the_lessons_shape_keeps_the_lessons_layer_names():
    """Checkpoints saved before shapes were settings name fc1, bn1, fc2, bn2, fc3: they still load."""
    batchnorm = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(MLP(batchnorm=True).state_dict()) == [
        "fc1.weight", "fc1.bias", *(f"bn1.{k}" for k in batchnorm), "fc2.weight", "fc2.bias",
        *(f"bn2.{k}" for k in batchnorm), "fc3.weight", "fc3.bias"]
    assert list(MLP(hidden=(), batchnorm=True).state_dict()) == ["fc1.weight", "fc1.bias"]  # only the output layer


@pytest.mark.parametrize("hidden,expected", [
    ((), 784 * 10 + 10),  # one linear layer
    ((32,), 784 * 32 + 32 + 32 * 10 + 10),
    ((128, 64), 109_386),
    ((64, 64, 64, 64), 784 * 64 + 64 + 3 * (64 * 64 + 64) + 64 * 10 + 10),
])
def test_any_shape_maps_digits_to_ten_logits_and_is_counted_without_building_it(hidden, expected):
    x = torch.randn(5, 1, 28, 28)
    for activation in ("relu", "tanh", "sigmoid", "none"):
        model = MLP(dropout=0.2, batchnorm=True, hidden=hidden, activation=activation)
        assert model(x).shape == (5, 10) and [h.shape for h in model.hidden(x)] == [(5, w) for w in hidden]
    assert count_parameters(MLP(hidden=hidden)) == parameter_count("mlp", False, hidden) == expected
    assert parameter_count("mlp", True, hidden) == expected + 2 * sum(hidden)  # BatchNorm's γ and β
    assert parameter_count("cnn", False, hidden) == count_parameters(CNN())  # the CNN has its own layers


def test_each_activation_is_the_function_between_the_layers():
    x = torch.randn(4, 1, 28, 28)
    for name, f in (("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("none", lambda h: h)):
        model = MLP(hidden=(32, 16), activation=name)
        h1, h2 = model.hidden(x)
        assert torch.equal(h1, f(model.fc1(x.view(-1, 784)))) and torch.equal(h2, f(model.fc2(h1)))
        assert torch.equal(model(x), model.fc3(h2))
    linear = MLP(hidden=())
    assert linear.hidden(x) == [] and torch.equal(linear(x), linear.fc1(x.view(-1, 784)))


def test_hidden_layers_as_text():
    assert parse_hidden("128,64") == (128, 64) and parse_hidden(" 256 , 128 ") == (256, 128)
    assert parse_hidden("") == parse_hidden("0") == ()
    assert hidden_text((128, 64)) == "128,64" and hidden_text(()) == "0"
    assert shape_text((128, 64)) == "784 → 128 → 64 → 10" and shape_text(()) == "784 → 10"
    for bad in ("a,b", "128,", "1.5"):
        with pytest.raises(ValueError):
            parse_hidden(bad)


@pytest.mark.parametrize("hidden,batchnorm,dropout", [((128, 64), False, 0.0), ((64, 64, 64, 64), True, 0.3),
                                                      ((), True, 0.5)])
def test_without_nonlinearity_the_stack_is_one_linear_layer(hidden, batchnorm, dropout):
    model = MLP(dropout=dropout, batchnorm=batchnorm, hidden=hidden, activation="none")
    for m in model.modules():  # BatchNorm with statistics of its own, as after training
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
    model.train()  # folding means evaluation mode, whatever mode the model is in
    weight, bias = fold_linear(model)
    assert weight.shape == (10, 784) and bias.shape == (10,) and model.training
    x = torch.randn(50, 1, 28, 28)
    with torch.no_grad():
        expected = model.eval()(x)
    folded = x.view(-1, 784).double() @ weight.T + bias
    assert torch.allclose(folded.float(), expected, rtol=0, atol=1e-5)


def test_a_network_with_a_nonlinearity_does_not_fold():
    for model in (MLP(), MLP(hidden=(32,), activation="tanh"), CNN()):
        with pytest.raises(LessonError) as err:
            fold_linear(model)
        assert err.value.key == "fold_nonlinear" and "one linear layer" in str(err.value)
    assert "1 つの線形層" in t("errors.fold_nonlinear", "ja")


def test_without_hidden_layers_the_first_layer_is_the_output_one_picture_per_digit():
    linear = MLP(hidden=(), activation="tanh")
    filters = first_layer_filters(linear)
    assert filters.shape == (10, 28, 28) and torch.equal(filters[3].flatten(), linear.fc1.weight[3])
    with pytest.raises(ValueError, match="no units that fire"):
        first_layer_activity(linear.eval(), torch.randn(5, 1, 28, 28))
    deep = MLP(hidden=(64, 64, 64, 64), activation="sigmoid").eval()
    assert first_layer_filters(deep).shape == (64, 28, 28)
    assert (first_layer_activity(deep, torch.randn(20, 1, 28, 28)) == 1).all()  # a sigmoid is never 0: none dies
