"""Saving and loading a trained model: its state_dict with the run's config as JSON, so the file
alone rebuilds the model. Loading unpickles only tensors and plain values (`weights_only=True`) and
refuses, in words a student understands, a file that is not a model of this app, save one: the
lecture's `torch.save(model.state_dict(), 'mnist_model.pth')`, which loads as the lesson's MLP.
"""
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from core.i18n import LessonError
from core.train import ConfigError, TrainConfig

CHECKPOINT_FORMAT = "training-loop-lab/1"
MAX_CHECKPOINT_BYTES = 50 * 1024 * 1024  # the CNN and MLP are < 1 MB; anything huge is refused
# the lecture's MNISTClassifier: layer1 (Linear 784→128), layer2 (128→64), layer3 (64→10), ReLU between
LECTURE_LAYERS = {"layer1": "fc1", "layer2": "fc2", "layer3": "fc3"}  # → the lesson's MLP's names


class CheckpointError(LessonError):
    """A file that cannot be loaded as a model of this app."""


def save_checkpoint(file: str | Path | BinaryIO, model: nn.Module, config: TrainConfig) -> None:
    save_weights(file, model.state_dict(), config)


def save_weights(file: str | Path | BinaryIO, state_dict: dict, config: TrainConfig) -> None:
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    torch.save({"format": CHECKPOINT_FORMAT, "config": config.to_json(), "state_dict": state}, file)


def checkpoint_bytes(model: nn.Module, config: TrainConfig) -> bytes:
    """The checkpoint as bytes: what a download button hands the browser."""
    return weights_bytes(model.state_dict(), config)


def weights_bytes(state_dict: dict, config: TrainConfig) -> bytes:
    """A checkpoint of these weights as bytes (what the run store keeps of a model)."""
    buffer = io.BytesIO()
    save_weights(buffer, state_dict, config)
    return buffer.getvalue()


def saved_state_bytes(saved: dict) -> bytes:
    """Trainer.checkpoint() as bytes (tensors and plain values only)."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "trainer": saved}, buffer)
    return buffer.getvalue()


def read_saved_state(data: bytes, name: str) -> dict:
    """A Trainer.checkpoint() back from `saved_state_bytes`, unpickling only tensors and plain values."""
    saved = _unpickle(data, name, 4 * MAX_CHECKPOINT_BYTES)  # weights, two optimizer moments and a best copy
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT or "trainer" not in saved:
        raise CheckpointError("checkpoint_foreign", name=name)
    return saved["trainer"]


def _unpickle(data: bytes, name: str, limit: int):
    """What `data` holds, unpickling only tensors and plain values; refused in words when it is over
    `limit` bytes or cannot be read."""
    if len(data) > limit:
        raise CheckpointError("checkpoint_too_large", name=name, mb=limit // 2**20)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a corrupt or foreign file: say so plainly
        raise CheckpointError("checkpoint_unreadable", name=name) from None


def load_checkpoint(path: str | Path, expect_model: str | None = None,
                    device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig]:
    path = Path(path)
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError("checkpoint_too_large", name=path.name, mb=MAX_CHECKPOINT_BYTES // 2**20)
    return read_checkpoint(path.read_bytes(), path.name, expect_model, device)


def read_checkpoint(data: bytes, name: str, expect_model: str | None = None,
                    device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig]:
    """Rebuild a saved model, in evaluation mode, from a checkpoint's bytes; `name` is for messages."""
    saved = _unpickle(data, name, MAX_CHECKPOINT_BYTES)
    lecture = _lecture_weights(saved)
    if lecture is not None:
        config, state_dict = TrainConfig(), lecture  # the lesson's architecture: the default settings
    elif not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError("checkpoint_foreign", name=name)
    else:
        try:
            config, state_dict = TrainConfig.from_dict(json.loads(saved["config"])), saved["state_dict"]
            replace(config, device="cpu").validate()  # an architecture this app builds, wherever it trained
        except (KeyError, TypeError, ValueError, ConfigError):
            raise CheckpointError("checkpoint_foreign", name=name) from None
    if expect_model and config.model != expect_model:
        raise CheckpointError("checkpoint_wrong_model", name=name, found=config.model.upper(),
                              expected=expect_model.upper())
    model = config.architecture()
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state_dict.items()}
    if expected != found:
        wrong = sorted(set(expected.items()) ^ set(found.items()))[:3]
        raise CheckpointError("checkpoint_mismatch", name=name, model=config.model.upper(),
                              where=", ".join(f"{k} {s}" for k, s in wrong))
    model.load_state_dict(state_dict)
    return model.to(device).eval(), config


def _lecture_weights(saved) -> dict | None:
    """The lecture's file, a plain state_dict of its MNISTClassifier, under the lesson's MLP's names
    (its shapes are checked like any checkpoint's); None for anything else."""
    names = {f"{layer}.{kind}": f"{ours}.{kind}" for layer, ours in LECTURE_LAYERS.items()
             for kind in ("weight", "bias")}
    if not (isinstance(saved, dict) and set(saved) == set(names)
            and all(isinstance(v, torch.Tensor) for v in saved.values())):
        return None
    return {names[k]: v for k, v in saved.items()}
