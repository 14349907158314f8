"""Saving and loading a model: a round trip, bytes for a download, the lecture's file, and files that are refused."""
import io
import json

import pytest
import torch
from torch import nn

from core import data as D
from core import confusion as C
from core.checkpoint import CheckpointError, checkpoint_bytes, load_checkpoint, read_checkpoint, save_checkpoint
from core.i18n import t
from core.train import TrainConfig, train

TINY = dict(train_subset=512, epochs=1, device="cpu")


@pytest.fixture(scope="module")
def trained(splits):
    return train(TrainConfig(batch_size=128, dropout=0.2, **TINY), splits)


def test_checkpoint_round_trip(tmp_path, splits, trained):
    path = tmp_path / "run.pt"
    save_checkpoint(path, trained.model, trained.config)
    model, config = load_checkpoint(path, expect_model="mlp")
    assert config == trained.config and not model.training
    x = D.to_tensors(splits.val, limit=10).x
    assert torch.equal(model(x), trained.model.eval()(x))
    again, _ = read_checkpoint(checkpoint_bytes(trained.model, trained.config), "download.pt")  # what a browser gets
    assert torch.equal(again(x), model(x))


def test_mismatched_checkpoints_are_refused(tmp_path, trained):
    path = tmp_path / "run.pt"
    save_checkpoint(path, trained.model, trained.config)
    with pytest.raises(CheckpointError, match="not the CNN"):
        load_checkpoint(path, expect_model="cnn")
    wrong = TrainConfig(batchnorm=True)  # says BatchNorm, but the weights have none
    save_checkpoint(path, trained.model, wrong)
    with pytest.raises(CheckpointError, match="does not match the MLP architecture"):
        load_checkpoint(path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_foreign_files_are_refused_in_the_learners_language(trained):
    plain = io.BytesIO()
    torch.save(trained.model.state_dict(), plain)  # a bare state_dict: no config to rebuild the model from
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(plain.getvalue(), "weights.pt")
    assert exc.value.key == "checkpoint_foreign"
    in_japanese = t(f"errors.{exc.value.key}", "ja", **exc.value.params)
    assert in_japanese.startswith("weights.pt は Training Loop Lab で保存されたモデルではなく、講義のモデルファイル")
    odd = io.BytesIO()  # the right format, a config no model of this app has
    torch.save({"format": "training-loop-lab/1", "config": '{"model": "mlp", "dropout": 5.0}',
                "state_dict": trained.model.state_dict()}, odd)
    with pytest.raises(CheckpointError, match="not saved by Training Loop Lab"):
        read_checkpoint(odd.getvalue(), "odd.pt")
    with pytest.raises(CheckpointError, match="larger than 50 MB"):
        read_checkpoint(b"0" * (50 * 2**20 + 1), "huge.pt")


def test_a_model_trained_on_a_gpu_loads_on_a_machine_without_one(trained, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = checkpoint_bytes(trained.model, TrainConfig(batch_size=128, dropout=0.2, **{**TINY, "device": "cuda"}))
    model, config = read_checkpoint(data, "from-gpu.pt")
    assert config.device == "cuda" and next(model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("hidden,activation", [((), "tanh"), ((64, 64, 64, 64), "sigmoid"), ((256, 128), "none")])
def test_any_shape_round_trips_through_a_checkpoint(splits, hidden, activation):
    config = TrainConfig(hidden=hidden, activation=activation, batchnorm=True, **TINY)
    result = train(config, splits)
    model, loaded = read_checkpoint(checkpoint_bytes(result.model, config), "shape.pt")
    assert loaded == config and loaded.hidden == hidden and loaded.activation == activation
    x = D.to_tensors(splits.val, limit=10).x
    assert torch.equal(model(x), result.model(x))


def test_a_checkpoint_saved_before_shapes_were_settings_loads_as_the_lessons_mlp(trained, splits):
    """Its config has no "hidden" nor "activation": 784-128-64-10 with ReLU, the only MLP there was."""
    old = {k: v for k, v in json.loads(trained.config.to_json()).items() if k not in ("hidden", "activation")}
    data = io.BytesIO()
    torch.save({"format": "training-loop-lab/1", "config": json.dumps(old),
                "state_dict": trained.model.state_dict()}, data)
    model, config = read_checkpoint(data.getvalue(), "old.pt")
    assert config.hidden == (128, 64) and config.activation == "relu" and config == trained.config
    x = D.to_tensors(splits.val, limit=10).x
    assert torch.equal(model(x), trained.model(x))


class MNISTClassifier(nn.Module):
    """The lecture's model, as its code writes it."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(28 * 28, 128)
        self.layer2 = nn.Linear(128, 64)
        self.layer3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)  # flatten the 28×28 image
        x = torch.relu(self.layer1(x))
        x = torch.relu(self.layer2(x))
        return self.layer3(x)


def test_the_lectures_model_file_loads_as_the_lessons_mlp(splits, tmp_path):
    lecture = MNISTClassifier().eval()
    path = tmp_path / "mnist_model.pth"
    torch.save(lecture.state_dict(), path)  # the lecture: torch.save(model.state_dict(), 'mnist_model.pth')
    model, config = read_checkpoint(path.read_bytes(), "mnist_model.pth")  # the sidebar's upload
    assert config == TrainConfig() and not model.training
    x = D.to_tensors(splits.val, limit=50).x  # the same normalized digits for both
    with torch.no_grad():
        assert torch.equal(model(x), lecture(x))
    on_disk, _ = load_checkpoint(path, expect_model="mlp")  # python -m core.confusion --checkpoint mnist_model.pth
    assert torch.equal(on_disk(x), model(x))
    out = io.StringIO()
    assert C.main(["--checkpoint", str(path)], out=out) == 0 and "val: accuracy" in out.getvalue()


def test_a_changed_lecture_model_is_refused_in_words(tmp_path):
    wider = MNISTClassifier()
    wider.layer1, wider.layer2 = nn.Linear(784, 256), nn.Linear(256, 64)
    data = io.BytesIO()
    torch.save(wider.state_dict(), data)
    with pytest.raises(CheckpointError, match=r"does not match the MLP architecture \(differs at: fc1.bias"):
        read_checkpoint(data.getvalue(), "mnist_model.pth")
    renamed = io.BytesIO()  # the lecture's layers under other names: not the lecture's file
    torch.save({k.replace("layer", "fc"): v for k, v in MNISTClassifier().state_dict().items()}, renamed)
    with pytest.raises(CheckpointError, match="not the lecture's model file either"):
        read_checkpoint(renamed.getvalue(), "renamed.pth")
