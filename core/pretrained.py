"""The default model: there without waiting for pages that need a trained model before any run.

Trained once on the active data (the lesson's MLP, Adam, lr 1e-3, batch 64) and cached on disk
as an ordinary checkpoint, so later starts only load it. It sees about TRAINING_SAMPLES digits:
10 epochs of the bundled 8,000 (test accuracy 94.3 % against 86.9 % after the Lab's default 3
epochs: a drawn digit is read right far more often), 2 epochs of full MNIST; a few seconds on a CPU.
"""
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from core import data as D
from core.checkpoint import load_checkpoint, save_checkpoint
from core.train import TrainConfig, evaluate, split_batches, train

DEFAULT_CONFIG = TrainConfig(model="mlp", batch_size=64, learning_rate=1e-3, optimizer="adam", epochs=10,
                             seed=0, device="cpu")
TRAINING_SAMPLES = 80_000  # digits seen in training, over all epochs
_lock = threading.Lock()  # one training per process, even if many sessions ask at once


@dataclass(frozen=True)
class DefaultModel:
    model: nn.Module  # on the CPU, in eval mode; shared read-only: copy it before changing it
    config: TrainConfig
    val_acc: float
    path: Path


def default_config(splits: D.MnistSplits) -> TrainConfig:
    """DEFAULT_CONFIG with as many epochs (2 to 10) as it takes to see about TRAINING_SAMPLES digits."""
    epochs = min(DEFAULT_CONFIG.epochs, max(2, math.ceil(TRAINING_SAMPLES / len(splits.train))))
    return replace(DEFAULT_CONFIG, epochs=epochs)


def checkpoint_path(splits: D.MnistSplits) -> Path:
    sizes, config = splits.sizes(), default_config(splits)
    return D.cache_dir() / (f"default-{config.model}-{config.epochs}ep-{splits.source}-"
                            f"{sizes['train']}-{sizes['val']}-{splits.files.fingerprint}.pt")


def default_model(splits: D.MnistSplits) -> DefaultModel:
    """Load the cached default model for this data, training and caching it first if needed."""
    path = checkpoint_path(splits)
    with _lock:
        if not path.is_file():
            config = default_config(splits)
            model = train(config, splits).model
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            save_checkpoint(tmp, model, config)
            tmp.replace(path)  # atomic: another process never reads half a file
        model, config = load_checkpoint(path, expect_model=DEFAULT_CONFIG.model)
    val_acc = evaluate(model, split_batches(D.to_tensors(splits.val)))[1]
    return DefaultModel(model, config, val_acc, path)
