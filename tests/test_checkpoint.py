"""Saving and loading a model: a round trip, bytes for a download, and files that are refused."""
import io

import pytest
import torch

from core import data as D
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
    assert in_japanese == "weights.pt は Training Loop Lab で保存されたモデルではありません。"
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
