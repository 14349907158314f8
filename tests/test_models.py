import torch

from core.models import CNN, MLP, build_model, count_parameters


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
