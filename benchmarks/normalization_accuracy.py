"""Test accuracy of the lesson's MLP under three input normalizations, with the plain loop.

    python benchmarks/normalization_accuracy.py --data-dir bench-data --epochs 10 --seeds 3

The lesson (and the engine) normalizes with Normalize((0.5,), (0.5,)) → [-1, 1]. Many tutorials
use MNIST's own mean and standard deviation (0.1307, 0.3081), or ToTensor alone ([0, 1]). Same
model, Adam (lr 1e-3), batch 64, randperm batches, trained on the data directory's training file
and scored on its test file after every epoch; prints the last epoch's and the best epoch's
accuracy, mean over seeds, and how many of the first layer's 128 units ended "dead" (their ReLU
fires on no test digit). This explains accuracy figures quoted from other set-ups.
"""
import argparse
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core.models import MLP, first_layer_activity  # noqa: E402

NORMALIZATIONS = {"lesson: Normalize((0.5,), (0.5,))": (0.5, 0.5), "ToTensor only": (0.0, 1.0),
                  "MNIST statistics (0.1307, 0.3081)": (0.1307, 0.3081)}


def accuracy_per_epoch(x_train, y_train, x_test, y_test, epochs: int, seed: int) -> tuple[list[float], int]:
    """Test accuracy after each epoch, and the dead first-layer units at the end."""
    torch.manual_seed(seed)
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(seed)
    accuracies = []
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x_train), generator=order).split(64):
            optimizer.zero_grad()
            F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracies.append((model(x_test).argmax(1) == y_test).float().mean().item())
    return accuracies, int((first_layer_activity(model, x_test) == 0).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with MNIST/raw/… including the test file")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    files = D.load_files(args.data_dir, download=False)
    if files.test_images is None:
        sys.exit(f"{args.data_dir} has no MNIST test file")

    def pixels(images):  # ToTensor: uint8 (N, 28, 28) → float (N, 1, 28, 28) in [0, 1]
        return torch.from_numpy(images).float().unsqueeze(1) / 255

    x_train, x_test = pixels(files.train_images), pixels(files.test_images)
    y_train = torch.from_numpy(files.train_labels.astype("int64"))
    y_test = torch.from_numpy(files.test_labels.astype("int64"))
    print(f"train {len(y_train):,}, test {len(y_test):,}; {args.epochs} epochs, seeds 0..{args.seeds - 1}")
    for name, (mean, std) in NORMALIZATIONS.items():
        runs = [accuracy_per_epoch((x_train - mean) / std, y_train, (x_test - mean) / std, y_test,
                                   args.epochs, seed) for seed in range(args.seeds)]
        last = [r[-1] for r, _ in runs]
        print(f"{name:36s} last epoch {statistics.mean(last):.4f} ({' / '.join(f'{a:.4f}' for a in last)}), "
              f"best epoch {statistics.mean(max(r) for r, _ in runs):.4f}, "
              f"dead units {statistics.mean(d for _, d in runs):.0f} of 128")


if __name__ == "__main__":
    main()
