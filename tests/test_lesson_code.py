"""The Lab's "same settings as PyTorch code" is a script that runs as printed and trains the app's model."""
import pytest

from core import data as D
from core.lesson_code import lesson_code
from core.models import build_model
from core.train import TrainConfig


@pytest.fixture(scope="module")
def mnist_dir(splits, tmp_path_factory):
    """A ./data folder as torchvision leaves it after a download (here: the bundled digits)."""
    root = tmp_path_factory.mktemp("lesson")
    raw = root / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    files = splits.files
    for name, array in (("train-images-idx3-ubyte", files.train_images), ("train-labels-idx1-ubyte", files.train_labels),
                        ("t10k-images-idx3-ubyte", files.train_images[:1000]),
                        ("t10k-labels-idx1-ubyte", files.train_labels[:1000])):
        D.write_idx(raw / name, array)
    return root


def run_script(config: TrainConfig, mnist_dir, monkeypatch, capsys) -> tuple[dict, str]:
    monkeypatch.chdir(mnist_dir)
    namespace = {"__name__": "__main__"}
    exec(compile(lesson_code(config), "lesson.py", "exec"), namespace)
    return namespace, capsys.readouterr().out


def assert_same_as_the_app(config: TrainConfig, namespace: dict, out: str) -> None:
    model = namespace["model"]
    app_model = build_model(config.model, config.dropout, config.batchnorm, config.hidden, config.activation)
    assert [p.shape for p in model.parameters()] == [p.shape for p in app_model.parameters()]  # layer for layer
    assert len(namespace["train_loader"].dataset) == config.train_subset
    assert namespace["train_loader"].batch_size == config.batch_size
    assert len(namespace["val_set"]) == round(len(namespace["full_train"]) * D.VAL_FRACTION)
    assert namespace["optimizer"].defaults["lr"] == config.learning_rate
    assert "validation loss" in out and "test accuracy" in out


def test_the_lessons_settings_learn_mnist(mnist_dir, monkeypatch, capsys):
    config = TrainConfig(epochs=2, train_subset=2000, device="cpu")
    namespace, out = run_script(config, mnist_dir, monkeypatch, capsys)
    assert_same_as_the_app(config, namespace, out)
    assert type(namespace["optimizer"]).__name__ == "Adam"
    assert out.count("validation loss") == 2
    assert namespace["test_acc"] > 0.8 and namespace["val_acc"] > 0.8


@pytest.mark.parametrize("config, optimizer", [
    (TrainConfig(epochs=1, train_subset=500, dropout=0.3, batchnorm=True, optimizer="nesterov", weight_decay=1e-4,
                 learning_rate=0.05, drop_last=True, device="cpu"), "SGD"),
    (TrainConfig(model="cnn", epochs=2, train_subset=300, dropout=0.2, batchnorm=True, augment=True, patience=1,
                 optimizer="rmsprop", device="cpu"), "RMSprop"),
], ids=["mlp-options", "cnn-options"])
def test_every_option_appears_in_the_script_and_it_still_runs(config, optimizer, mnist_dir, monkeypatch, capsys):
    namespace, out = run_script(config, mnist_dir, monkeypatch, capsys)
    assert_same_as_the_app(config, namespace, out)
    assert type(namespace["optimizer"]).__name__ == optimizer
    assert namespace["optimizer"].defaults["weight_decay"] == config.weight_decay
    assert namespace["train_loader"].drop_last == config.drop_last
    assert any(type(m).__name__ == "Dropout" and m.p == config.dropout for m in namespace["model"])
    if config.augment:  # only the training samples are augmented
        assert namespace["train_set"].dataset.dataset.transform is namespace["augment"]
        assert namespace["val_set"].dataset.transform is namespace["transform"]


@pytest.mark.parametrize("config, shape, activations", [
    (TrainConfig(hidden=(), activation="tanh", epochs=1, train_subset=300, device="cpu"), "784 → 10", []),
    (TrainConfig(hidden=(64, 64, 64, 64), activation="sigmoid", batchnorm=True, dropout=0.1, epochs=1,
                 train_subset=300, device="cpu"), "784 → 64 → 64 → 64 → 64 → 10", ["Sigmoid"] * 4),
    (TrainConfig(activation="none", epochs=1, train_subset=300, device="cpu"),
     "784 → 128 → 64 → 10, no activation function", []),
], ids=["no-hidden-layer", "four-sigmoid-layers", "no-activation"])
def test_the_script_builds_the_chosen_layers_and_activation(config, shape, activations, mnist_dir, monkeypatch,
                                                            capsys):
    code = lesson_code(config)
    assert f"model = nn.Sequential(  # ④ {shape}\n" in code
    namespace, out = run_script(config, mnist_dir, monkeypatch, capsys)
    assert_same_as_the_app(config, namespace, out)
    layers = [type(m).__name__ for m in namespace["model"]]
    assert [n for n in layers if n in ("ReLU", "Tanh", "Sigmoid")] == activations
    assert layers.count("Linear") == len(config.hidden) + 1 and layers.count("BatchNorm1d") == (
        len(config.hidden) if config.batchnorm else 0)


@pytest.mark.parametrize("order", ["fixed", "file", "sorted"])
def test_a_fixed_sample_order_is_in_the_script_and_the_loader_keeps_it(order, mnist_dir, monkeypatch, capsys):
    config = TrainConfig(order=order, epochs=1, train_subset=300, device="cpu")
    namespace, out = run_script(config, mnist_dir, monkeypatch, capsys)
    assert_same_as_the_app(config, namespace, out)
    loader = namespace["train_loader"]
    assert type(loader.sampler).__name__ == "SequentialSampler"  # shuffle=False: every epoch the same order
    digits = [label for _, label in loader.dataset]
    assert (digits == sorted(digits)) == (order == "sorted")


def test_full_batch_and_a_forgotten_zero_grad_are_in_the_script(mnist_dir, monkeypatch, capsys):
    assert lesson_code(TrainConfig()).count("        optimizer.zero_grad()\n") == 1
    config = TrainConfig(batch_size="all", zero_grad=False, optimizer="sgd", learning_rate=0.1, epochs=1,
                         train_subset=300, device="cpu")
    code = lesson_code(config)
    assert "zero_grad()" not in code and "batch_size=len(train_set)" in code
    namespace, out = run_script(config, mnist_dir, monkeypatch, capsys)
    assert len(namespace["train_loader"]) == 1 and namespace["train_loader"].batch_size == 300
    assert "validation loss" in out
