"""The default model: there without waiting for pages that need a trained model before any run.

Trained once on the active data (the lesson's MLP, Adam, lr 1e-3, batch 64, 3 epochs: a few
seconds on a CPU) and cached on disk as an ordinary checkpoint, so later starts only load it.
"""
import threading
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from core import data as D
from core.train import TrainConfig, evaluate, load_checkpoint, save_checkpoint, split_batches, train

DEFAULT_CONFIG = TrainConfig(model="mlp", batch_size=64, learning_rate=1e-3, optimizer="adam", epochs=3,
                             seed=0, device="cpu")
_lock = threading.Lock()  # one training per process, even if many sessions ask at once


@dataclass(frozen=True)
class DefaultModel:
    model: nn.Module  # on the CPU, in eval mode; shared read-only: copy it before changing it
    config: TrainConfig
    val_acc: float
    path: Path


def checkpoint_path(splits: D.MnistSplits) -> Path:
    sizes = splits.sizes()
    return D.cache_dir() / f"default-{DEFAULT_CONFIG.model}-{splits.source}-{sizes['train']}-{sizes['val']}.pt"


def default_model(splits: D.MnistSplits) -> DefaultModel:
    """Load the cached default model for this data, training and caching it first if needed."""
    path = checkpoint_path(splits)
    with _lock:
        if not path.is_file():
            model = train(DEFAULT_CONFIG, splits).model
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            save_checkpoint(tmp, model, DEFAULT_CONFIG)
            tmp.replace(path)  # atomic: another process never reads half a file
        model, config = load_checkpoint(path, expect_model=DEFAULT_CONFIG.model)
    val_acc = evaluate(model, split_batches(D.to_tensors(splits.val)))[1]
    return DefaultModel(model, config, val_acc, path)
