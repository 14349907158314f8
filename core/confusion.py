"""Where a trained model goes wrong: its predictions on a split, the confusion matrix, the mistakes.

    python -m core.confusion --checkpoint model.pt [--split val|test] [--data-dir DIR]
"""
import argparse
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core import data as D
from core.digits import for_inference
from core.checkpoint import CheckpointError, load_checkpoint
from core.train import EVAL_BATCH, split_batches

CLASSES = 10
WATCHED = 20  # validation digits the Training Lab shows the model reading, epoch after epoch


@dataclass(frozen=True)
class Predictions:
    labels: torch.Tensor  # (N,) the true digits
    predicted: torch.Tensor  # (N,) the model's answer: the class with the largest logit
    confidence: torch.Tensor  # (N,) the softmax probability the model gave its answer

    @property
    def accuracy(self) -> float:
        return (self.predicted == self.labels).float().mean().item()


@torch.no_grad()
def predict_split(model: nn.Module, split: D.TensorSplit, batch_size: int = EVAL_BATCH) -> Predictions:
    """The model's answer for every sample of `split`, in evaluation mode (on a copy if it was training)."""
    model = for_inference(model)
    probs = torch.cat([F.softmax(model(x), dim=1).cpu() for x, _ in split_batches(split, batch_size)])  # (N, 10)
    confidence, predicted = probs.max(dim=1)
    return Predictions(split.y.cpu(), predicted, confidence)


def make_watch_hook(split: D.TensorSplit, n: int = WATCHED, batch_size: int = EVAL_BATCH):
    """A Trainer `epoch_hook(model, epoch) -> {"watched": [answers], "predicted": [counts]}` after each epoch:
    "watched", the model's answer for the split's first n samples, the same digits every time, so a
    learner sees the answers turn right as the model learns; "predicted", how often it answers each
    digit over the whole split (`predicted_counts`), so a model that learned to say one digit
    (trained on digits sorted 0…9, it says mostly 9) shows it. One pass in evaluation mode; the mode
    is restored after."""
    @torch.no_grad()
    def hook(model: nn.Module, epoch: int) -> dict:
        device = next(model.parameters()).device  # batch by batch: runs on a GPU hold no copy of the split
        was_training = model.training
        model.eval()
        try:
            answers = torch.cat([model(x.to(device)).argmax(dim=1) for x, _ in split_batches(split, batch_size)]).cpu()
        finally:
            model.train(was_training)
        return {"watched": answers[:n].tolist(), "predicted": predicted_counts(answers)}

    return hook


def predicted_counts(predicted: torch.Tensor) -> list[int]:
    """How many of the answers `predicted` (N,) are each digit 0–9: 10 counts summing to N."""
    return torch.bincount(predicted.flatten(), minlength=CLASSES).tolist()


def confusion_matrix(p: Predictions) -> torch.Tensor:
    """(10, 10) counts: row = the true digit, column = the predicted one; the diagonal is right."""
    return torch.bincount(p.labels * CLASSES + p.predicted, minlength=CLASSES * CLASSES).view(CLASSES, CLASSES)


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """(10,) the share of each true digit that the model reads right (NaN for a digit with no samples)."""
    return matrix.diagonal() / matrix.sum(dim=1)


def top_confusions(matrix: torch.Tensor, k: int = 5) -> list[tuple[int, int, int]]:
    """The k most frequent mistakes as (true digit, predicted digit, count), most frequent first."""
    off = matrix.clone().fill_diagonal_(0).flatten()
    counts, cells = off.sort(descending=True, stable=True)
    return [(int(c) // CLASSES, int(c) % CLASSES, int(n)) for n, c in zip(counts[:k], cells[:k]) if n > 0]


def mistakes(p: Predictions, true_digit: int | None = None, predicted: int | None = None) -> torch.Tensor:
    """Indices of the wrongly read samples (optionally only one true or predicted digit), the most
    confident mistakes first: they are the model's surest errors, and sometimes a badly written digit."""
    wrong = p.predicted != p.labels
    if true_digit is not None:
        wrong &= p.labels == true_digit
    if predicted is not None:
        wrong &= p.predicted == predicted
    idx = wrong.nonzero().flatten()
    return idx[p.confidence[idx].argsort(descending=True, stable=True)]


def format_matrix(matrix: torch.Tensor) -> str:
    """The matrix as a text table: rows true digits, columns predictions, with each row's accuracy."""
    head = "true\\pred " + " ".join(f"{d:>5}" for d in range(CLASSES)) + "   right"
    rows = [f"{t:>9} " + " ".join(f"{int(n):>5}" for n in matrix[t]) + f"  {acc:6.1%}"
            for t, acc in zip(range(CLASSES), per_class_accuracy(matrix).tolist())]
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    p = argparse.ArgumentParser(prog="python -m core.confusion", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True,
                   help="a model saved by `python -m core.train --save PATH`, or the lecture's mnist_model.pth")
    p.add_argument("--split", choices=("val", "test"), default="val",
                   help="val (default) while you tune; test only once, for the final score")
    p.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout (default: $TLL_DATA_DIR or ./data)")
    args = p.parse_args(argv)
    try:
        model, _ = load_checkpoint(args.checkpoint)
    except (OSError, CheckpointError) as exc:
        p.error(str(exc))
    try:
        splits = D.load_splits(args.data_dir)
    except D.DataError as exc:
        p.exit(1, f"error: {exc}\n")
    preds = predict_split(model, D.to_tensors(getattr(splits, args.split)))
    matrix = confusion_matrix(preds)
    print(f"{splits.describe()}\n{args.split}: accuracy {preds.accuracy:.2%}, "
          f"{int((preds.predicted != preds.labels).sum())} mistakes in {len(preds.labels):,}", file=out)
    print(format_matrix(matrix), file=out)
    print("most frequent mistakes: " + ", ".join(f"{t} read as {q} ({n}×)" for t, q, n in top_confusions(matrix)),
          file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
