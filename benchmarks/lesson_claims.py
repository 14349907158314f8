"""The deep-learning lesson's three claims, measured: stacking layers, nonlinearity, random batches.

    python benchmarks/lesson_claims.py [--data-dir DIR] [--only depth order batch fold] [--epochs N]

Every run is the engine's (core.train) on the CPU, seed 0, Adam lr 1e-3 batch 64 unless a table
says otherwise; without --data-dir the bundled 8,000 training digits (1,000 validation). Tables:
- depth: validation accuracy for 0/1/2/4 hidden layers × ReLU / none (5 epochs);
- order: shuffled afresh vs shuffled once vs sorted by digit (3 epochs; Adam lr 1e-3 and the
  random_batches preset's SGD lr 0.05), with the answer each run gives most at each epoch's end and
  how its per-step loss jumps;
- batch: full batch (one update per epoch) vs batch 64, SGD (lr 0.1) and Adam (5 epochs);
- fold: 0 hidden vs 2 hidden without activation vs 2 hidden ReLU (5 epochs), and the no-activation
  network folded into one linear layer: largest logit difference and accuracies on validation and test.
"""
import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core.confusion import predict_split  # noqa: E402
from core.linearity import fold_check  # noqa: E402
from core.train import TrainConfig, train  # noqa: E402

BASE = TrainConfig(device="cpu", optimizer="adam", learning_rate=1e-3, batch_size=64, seed=0)
DEPTHS = {0: (), 1: (128,), 2: (128, 64), 4: (64, 64, 64, 64)}  # the Lab's shapes


def run(config: TrainConfig, splits: D.MnistSplits):
    t0 = time.perf_counter()
    result = train(config, splits)
    return result, time.perf_counter() - t0


def depth_table(splits: D.MnistSplits, epochs: int = 5) -> None:
    print(f"\n{epochs} epochs; val acc (train acc of the last epoch, as trained; seconds)\n"
          "| hidden layers | ReLU | none (no activation) |\n| --- | --- | --- |")
    for depth, hidden in DEPTHS.items():
        cells = []
        for activation in ("relu", "none"):
            if depth == 0 and activation == "none":  # without hidden layers there is nothing to activate
                cells.append("(same network)")
                continue
            result, seconds = run(replace(BASE, hidden=hidden, activation=activation, epochs=epochs), splits)
            last = result.epochs[-1]
            cells.append(f"{last.val_acc:.1%} (train {last.train_acc:.1%}; {seconds:.1f} s)")
        print(f"| {depth} ({'-'.join(map(str, hidden)) or 'none'}) | {' | '.join(cells)} |")


def order_table(splits: D.MnistSplits, epochs: int = 3) -> None:
    print("\n| optimizer | order | val acc per epoch | digit predicted most at each epoch's end: its share of "
          "val answers | per-step loss after epoch 1: min / median / max |\n| --- | --- | --- | --- | --- |")
    val = D.to_tensors(splits.val)
    for (optimizer, lr), order in itertools.product((("adam", 1e-3), ("sgd", 0.05)),  # the preset's SGD
                                                    ("shuffle", "fixed", "sorted")):
        most = []

        def hook(model, epoch):
            counts = torch.bincount(predict_split(model, val).predicted, minlength=10)
            most.append(f"{int(counts.argmax())}: {counts.max() / len(val):.0%}")
            return {}

        result = train(replace(BASE, optimizer=optimizer, learning_rate=lr, order=order, epochs=epochs), splits,
                       epoch_hook=hook)
        later = torch.tensor(result.steps[result.epochs[0].step:])
        accs = " / ".join(f"{e.val_acc:.1%}" for e in result.epochs)
        print(f"| {optimizer} lr {lr:g} | {order} | {accs} | {' / '.join(most)} | "
              f"{later.min():.3f} / {later.median():.3f} / {later.max():.3f} |")


def batch_table(splits: D.MnistSplits, epochs: int = 5) -> None:
    n = len(splits.train)
    print("\n| optimizer | batch | updates per epoch | val acc per epoch | seconds |\n| --- | --- | --- | --- | --- |")
    for optimizer, lr in (("sgd", 0.1), ("adam", 1e-3)):
        for batch in (n, 64):
            config = replace(BASE, optimizer=optimizer, learning_rate=lr, batch_size=batch, epochs=epochs)
            result, seconds = run(config, splits)
            accs = " / ".join(f"{e.val_acc:.1%}" for e in result.epochs)
            name = f"{batch:,} (full)" if batch == n else str(batch)
            print(f"| {optimizer} lr {lr:g} | {name} | {D.batch_plan(n, batch)[0]:,} | {accs} | {seconds:.1f} |")


def fold_table(splits: D.MnistSplits, epochs: int = 5) -> None:
    val, test = D.to_tensors(splits.val), D.to_tensors(splits.test)
    print(f"\n| network ({epochs} epochs) | val acc ({len(val):,}) | test acc ({len(test):,}) |\n| --- | --- | --- |")
    linear_stack = None
    for name, hidden, activation in (("0 hidden", (), "relu"), ("128-64, none", (128, 64), "none"),
                                     ("128-64, ReLU", (128, 64), "relu")):
        result = train(replace(BASE, hidden=hidden, activation=activation, epochs=epochs), splits)
        print(f"| {name} | {predict_split(result.model, val).accuracy:.2%} | "
              f"{predict_split(result.model, test).accuracy:.2%} |")
        if activation == "none":
            linear_stack = result.model
    print("\n| 128-64 without activation, folded | largest logit difference | network acc | folded acc |\n"
          "| --- | --- | --- | --- |")
    for split_name, split in (("validation", val), ("test", test)):
        check = fold_check(linear_stack, split)
        print(f"| {split_name} ({check.samples:,}) | {check.max_difference:.2e} | {check.network_accuracy:.2%} | "
              f"{check.folded_accuracy:.2%} |")


TABLES = {"depth": depth_table, "order": order_table, "batch": batch_table, "fold": fold_table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help="folder with MNIST/raw/… (default: $TLL_DATA_DIR or ./data, else the bundled sample)")
    parser.add_argument("--only", nargs="+", choices=list(TABLES), default=list(TABLES))
    parser.add_argument("--epochs", type=int, default=None,
                        help="instead of each table's own (depth, batch, fold: 5; order: 3)")
    args = parser.parse_args()
    splits = D.load_splits(args.data_dir, download=False)  # no data directory: the bundled sample
    print(f"data: {splits.describe()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.only:
        t0 = time.perf_counter()
        TABLES[name](splits, **({"epochs": args.epochs} if args.epochs else {}))
        print(f"({name}: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
