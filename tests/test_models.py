import torch

from core.models import CNN, MLP, build_model, count_parameters, first_layer_activity, first_layer_filters


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
