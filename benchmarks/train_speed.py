"""Textbook loop against the engine's fast path: same data, model, optimizer, batch size, one run.

    python benchmarks/train_speed.py --data-dir DIR --epochs 3 --seeds 3

The setup is the lesson's: train the 784-128-64-10 MLP with Adam (lr 1e-3) at batch size 64 on
the training images, and after every epoch evaluate on the 10,000 test images (the evaluation
pass the lesson runs each epoch). With the bundled sample (no data dir) both paths train on its
8,000 training digits and evaluate on its 2,000 held-out ones.

Textbook: `datasets.MNIST` + `ToTensor` + `Normalize((0.5,), (0.5,))` + `DataLoader(shuffle=True)`
and the plain loop, written as the lesson writes it. Engine: `core.train.Trainer` with the
normalized tensors on the device and `randperm` minibatches; with `--cuda-graph` on a GPU a third
contestant, "graphed", replays each full minibatch's step as one CUDA graph instead of ~30 kernel
launches. Prints seconds per epoch for each, the ratios and the accuracies.
"""
import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core.device import pick_device  # noqa: E402
from core.models import MLP  # noqa: E402
from core.train import TrainConfig, Trainer  # noqa: E402


def lesson_splits(splits: D.MnistSplits) -> D.MnistSplits:
    """Train on the whole training file, evaluate each epoch on the test file, as the lesson does."""
    f = splits.files
    if f.test_images is None:  # bundled sample: keep its own held-out digits for evaluation
        held_out = torch.cat([splits.val.indices, splits.test.indices]).sort().values
        images = torch.from_numpy(f.train_images)[held_out]
        labels = torch.from_numpy(f.train_labels.astype("int64"))[held_out]
        return dataclasses.replace(splits, val=D.Subset(images, labels, held_out, False))
    pool = torch.arange(len(f.train_labels))
    train = D.Subset(torch.from_numpy(f.train_images), torch.from_numpy(f.train_labels.astype("int64")), pool, False)
    return dataclasses.replace(splits, train=train, val=splits.test)


def textbook_epochs(splits: D.MnistSplits, epochs: int, device: torch.device, seed: int):
    """The lesson's loop, line for line; yields (train_seconds, epoch_seconds, val_acc) per epoch."""
    torch.manual_seed(seed)
    train_loader = D.textbook_loader(splits, splits.train, batch_size=64, shuffle=True)
    val_loader = D.textbook_loader(splits, splits.val, batch_size=64, shuffle=False)
    model = MLP().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, labels in val_loader:
                images, labels = images.to(device), labels.to(device)
                correct += (model(images).argmax(1) == labels).sum().item()
                total += labels.size(0)
        yield t1 - t0, time.perf_counter() - t0, correct / total


def engine_epochs(splits: D.MnistSplits, epochs: int, device: torch.device, seed: int, cuda_graph: bool):
    config = TrainConfig(model="mlp", optimizer="adam", learning_rate=1e-3, batch_size=64,
                         epochs=epochs, seed=seed, device=device.type, cuda_graph=cuda_graph)
    result = Trainer(config, splits).run()
    return [(e.train_seconds, e.seconds, e.val_acc) for e in result.epochs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, default=3, help="repeat with seeds 0..N-1; accuracy is their mean")
    parser.add_argument("--cuda-graph", action="store_true",
                        help="on a GPU, also time the engine replaying each step as one CUDA graph "
                             "(TrainConfig.cuda_graph), as a third contestant in the same run")
    args = parser.parse_args()
    device = pick_device(args.device)
    splits = lesson_splits(D.load_splits(args.data_dir, download=False))
    print(f"data: {splits.source} ({splits.location}): train {len(splits.train):,}, "
          f"evaluated each epoch on {len(splits.val):,}; device {device}; torch threads {torch.get_num_threads()}; "
          f"CUDA graph {args.cuda_graph and device.type == 'cuda'}")
    engines = {"engine": False, "graphed": True} if args.cuda_graph and device.type == "cuda" else {"engine": False}
    runs = {name: [] for name in ("textbook", *engines)}
    for seed in range(args.seeds):  # alternate the contestants, so a slow patch of the machine hits all
        runs["textbook"].append(list(textbook_epochs(splits, args.epochs, device, seed)))
        for name, cuda_graph in engines.items():
            runs[name].append(engine_epochs(splits, args.epochs, device, seed, cuda_graph))
    typical = {}
    for name, seeds in runs.items():
        for seed, epochs in enumerate(seeds):
            for i, (train_s, epoch_s, acc) in enumerate(epochs, 1):
                print(f"{name:8s} seed {seed} epoch {i}: train {train_s:.3f} s, whole epoch {epoch_s:.3f} s, "
                      f"val acc {acc:.4f}")
        # the first epoch pays one-off costs (allocations, CUDA start); the median of the rest is typical
        tail = [e for epochs in seeds for e in (epochs[1:] or epochs)]
        typical[name] = (statistics.median(e[0] for e in tail), statistics.median(e[1] for e in tail),
                         statistics.mean(epochs[-1][2] for epochs in seeds))
    tb_train, tb_epoch, tb_acc = typical["textbook"]
    print(f"textbook: {tb_train:.3f} s training pass, {tb_epoch:.3f} s whole epoch (median after epoch 1)")
    for name in engines:
        en_train, en_epoch, en_acc = typical[name]
        print(f"{name}: {en_train:.3f} s training pass, {en_epoch:.3f} s whole epoch; speed-up over the "
              f"textbook loop: training pass {tb_train / en_train:.1f}x, whole epoch {tb_epoch / en_epoch:.1f}x")
        print(f"{name}: accuracy after {args.epochs} epochs, mean of {args.seeds} seeds: textbook {tb_acc:.4f}, "
              f"{name} {en_acc:.4f} (difference {100 * (en_acc - tb_acc):+.2f} points)")


if __name__ == "__main__":
    main()
