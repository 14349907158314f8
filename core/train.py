"""The training loop: ④ forward → ⑤ output → ⑥ loss → ⑦ backward → ⑧ optimizer step, over epochs.

    python -m core.train --epochs 3 --batch-size 64 --lr 1e-3 --optimizer adam --json

The trainer never prints: it calls `on_event` with a `StepEvent` after every step and an
`EpochEvent` after every epoch, and checks `should_stop()` before every step. The CLI, the
pages and the tests all drive this one loop.
"""
import argparse
import contextlib
import copy
import itertools
import json
import math
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable

import torch
import torch._dynamo  # noqa: F401 - the first optimizer of a process imports it (~2-3 s): pay that at
import torch.nn.functional as F  # start-up, not between a learner's click on Train and the first loss
from torch import nn

from core import data as D
from core.cuda_graph import CUDA_RANDOM, GraphedStep
from core.device import DEVICE_CHOICES, DeviceError, default_device_choice, pick_device
from core.i18n import LessonError, t
from core.models import (ACTIVATIONS, LESSON_HIDDEN, MAX_HIDDEN_LAYERS, MAX_WIDTH, MODEL_NAMES, build_model,
                         parse_hidden)

# key → the name shown on screen. The one list of optimizers the app offers (built by make_optimizer).
OPTIMIZERS = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "SGD + Nesterov momentum",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}
LOADERS = ("tensor", "dataloader")
EVAL_BATCH = 2000  # evaluation needs no gradients, so big batches are cheap
# A cross-entropy this big gives the true class a probability of e^-1000: the weights have blown
# up. Such runs rarely reach NaN: their ReLUs die first and the loss falls back to ~2.3, so a
# NaN check alone would call "SGD, lr 1, batch 1" a finished run.
DIVERGED_LOSS = 1000.0
FULL_BATCH = "all"  # the batch size that is the whole training set: one update per epoch with the exact gradient ∇L
MAX_CNN_BATCH = 8192  # the CNN's activations for one minibatch take ~0.2 MB a sample: 8,192 take ~1.6 GB


def parse_batch_size(text: str) -> int | str:
    """A batch size as typed in a URL or a command line: "64" → 64, "all" → FULL_BATCH; else ValueError."""
    return FULL_BATCH if text == FULL_BATCH else int(text)


def batch_text(batch_size: int | str, lang: str) -> str:
    """A batch size as the app writes it: "64", or FULL_BATCH as the word for "all" in `lang`."""
    return t("lab.batch_all", lang) if batch_size == FULL_BATCH else str(batch_size)


def diverged(loss: float) -> bool:
    """True when a step's loss is NaN, infinite or exploded past DIVERGED_LOSS."""
    return not (math.isfinite(loss) and loss < DIVERGED_LOSS)


class ConfigError(LessonError):
    """A setting that cannot work, with a message a student understands."""


@dataclass
class TrainConfig:
    model: str = "mlp"  # "mlp" (the lesson's 784-128-64-10) or "cnn"
    hidden: tuple[int, ...] = LESSON_HIDDEN  # the MLP's hidden layers' widths, 0 to 4 of them (the CNN ignores it)
    activation: str = "relu"  # after each of the MLP's hidden layers: a key of ACTIVATIONS
    batch_size: int | str = 64  # samples per minibatch, or FULL_BATCH ("all"): the whole training set at once
    learning_rate: float = 1e-3  # step size of each parameter update
    optimizer: str = "adam"  # a key of OPTIMIZERS
    momentum: float = 0.9  # used by "momentum" and "nesterov" (and RMSprop's momentum stays 0)
    weight_decay: float = 0.0  # L2 penalty added by the optimizer
    dropout: float = 0.0  # probability of zeroing a hidden unit while training (0 = no dropout)
    batchnorm: bool = False  # BatchNorm after each hidden layer
    epochs: int = 3  # passes over the training set
    seed: int = 0  # fixes the initial weights, the batch order and dropout's masks
    device: str = field(default_factory=default_device_choice)  # "auto", "cpu" or "cuda" (TLL_DEVICE)
    loader: str = "tensor"  # "tensor" (fast: tensors on the device) or "dataloader" (the textbook path)
    train_subset: int = 0  # train on only the first N training samples (0 = all); shows overfitting
    augment: bool = False  # random small rotation, shift and noise on each minibatch
    drop_last: bool = False  # drop the last, smaller minibatch of each epoch
    order: str = "shuffle"  # the samples' order each epoch: a key of D.ORDERS ("shuffle": a fresh one every epoch)
    patience: int = 0  # early stopping: stop after this many epochs without a better val loss (0 = off)
    zero_grad: bool = True  # call optimizer.zero_grad() before each backward (False: gradients accumulate)
    cuda_graph: bool = True  # on a GPU, replay each full minibatch's step as one CUDA graph: same math,
    # ~7x faster per epoch on an H200 (docs/benchmarks.md); no effect on the CPU

    def __post_init__(self):
        if isinstance(self.hidden, list):  # as JSON (to_json, a checkpoint, the store) gives it back
            self.hidden = tuple(self.hidden)

    def validate(self) -> "TrainConfig":
        """Refuse settings that cannot work, in words a student understands; returns self."""
        if self.model not in MODEL_NAMES:
            raise ConfigError("model", value=self.model, choices=", ".join(MODEL_NAMES))
        if not isinstance(self.hidden, tuple) or len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError("hidden_layers", value=self.hidden, most=MAX_HIDDEN_LAYERS)
        for width in self.hidden:
            if not (type(width) is int and 1 <= width <= MAX_WIDTH):
                raise ConfigError("hidden_width", value=width, most=MAX_WIDTH)
        if self.activation not in ACTIVATIONS:
            raise ConfigError("activation", value=self.activation, choices=", ".join(ACTIVATIONS))
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError("optimizer", value=self.optimizer, choices=", ".join(OPTIMIZERS))
        if self.loader not in LOADERS:
            raise ConfigError("loader", value=self.loader, choices=", ".join(LOADERS))
        if self.order not in D.ORDERS:
            raise ConfigError("order", value=self.order, choices=", ".join(D.ORDERS))
        if self.device not in DEVICE_CHOICES:
            raise ConfigError("device", value=self.device, choices=", ".join(DEVICE_CHOICES))
        if self.batch_size != FULL_BATCH and not (type(self.batch_size) is int and self.batch_size >= 1):
            raise ConfigError("batch_size", value=self.batch_size)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError("learning_rate", value=self.learning_rate)
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout", value=self.dropout)
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ConfigError("epochs", value=self.epochs)
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ConfigError("weight_decay", value=self.weight_decay, momentum=self.momentum)
        if self.train_subset < 0 or self.patience < 0:
            raise ConfigError("train_subset", value=self.train_subset)
        return self

    def samples(self, available: int) -> int:
        """Training samples one epoch goes through, out of the `available` ones (train_subset caps them)."""
        return min(self.train_subset or available, available)

    def architecture(self) -> nn.Module:
        """A fresh model of this config's architecture (its weights as torch's generator draws them now)."""
        return build_model(self.model, self.dropout, self.batchnorm, self.hidden, self.activation)

    def minibatch(self, available: int) -> int:
        """Samples per minibatch out of `available` training samples: batch_size, or all of them for FULL_BATCH."""
        return self.samples(available) if self.batch_size == FULL_BATCH else self.batch_size

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9, capturable: bool = False) -> torch.optim.Optimizer:
    """The optimizer called `name` (a key of OPTIMIZERS).

    SGD, Adam(W) and (on the CPU) Adagrad use PyTorch's fused kernels, one call per step instead of
    one per parameter tensor: on a small MLP the per-step overhead is most of the time. `capturable`
    (GPU only) keeps Adam's and RMSprop's step counters on the GPU, so a CUDA graph can record
    the update (see core/cuda_graph.py).
    """
    params = list(params)
    fused = {"fused": True}
    graphed = {"capturable": True} if capturable else {}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, **fused)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay, **fused)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **fused, **graphed)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **fused, **graphed)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=True, **graphed)
    if name == "adagrad":
        on_cpu = params[0].device.type == "cpu"  # PyTorch has no fused Adagrad for CUDA
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay,
                                   **(fused if on_cpu else {"foreach": True}))
    raise ConfigError("optimizer", value=name, choices=", ".join(OPTIMIZERS))


# one step and one evaluation --------------------------------------------------------------------

def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               zero_grad: bool = True):
    """One minibatch: forward, loss, backward, update. Returns (loss as a float, detached logits).

    Without `zero_grad` the old gradients are not cleared: backward adds this minibatch's to them,
    and the update uses the sum of every gradient so far. A diverged loss (see `diverged`) skips
    backward and the update, so a diverging run keeps its last sane weights; the caller sees the
    loss and stops.
    """
    if zero_grad:
        optimizer.zero_grad(set_to_none=True)
    logits = model(x)  # ④ forward → ⑤ output (N, 10)
    loss = F.cross_entropy(logits, y)  # ⑥ loss
    loss_value = loss.item()  # one host sync per step, needed anyway to plot the loss
    if not diverged(loss_value):
        loss.backward()  # ⑦ gradients
        optimizer.step()  # ⑧ parameter update
    return loss_value, logits.detach()


@torch.no_grad()
def evaluate(model: nn.Module, batches) -> tuple[float, float]:
    """(mean loss, accuracy) over (x, y) batches, in evaluation mode and without a graph."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros(())
    correct = torch.zeros((), dtype=torch.long)
    n = 0
    for x, y in batches:
        logits = model(x)
        total_loss = total_loss + F.cross_entropy(logits, y, reduction="sum").cpu()
        correct = correct + (logits.argmax(1) == y).sum().cpu()
        n += len(y)
    model.train(was_training)
    return (total_loss.item() / n, correct.item() / n) if n else (float("nan"), float("nan"))


def split_batches(split: D.TensorSplit, batch_size: int = EVAL_BATCH):
    """Consecutive (x, y) batches over a whole split, for evaluation."""
    return ((split.x[i:i + batch_size], split.y[i:i + batch_size]) for i in range(0, len(split), batch_size))


# the run --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepEvent:
    epoch: int  # 1-based
    step: int  # 1-based, counted over the whole run
    loss: float


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    step: int  # steps done so far
    train_loss: float  # mean over the epoch's minibatches (in training mode, as they were seen)
    train_acc: float
    val_loss: float
    val_acc: float
    train_seconds: float  # the training pass
    seconds: float  # the whole epoch, validation pass included
    samples_per_s: float  # training samples per second of the training pass
    extra: dict = field(default_factory=dict)  # per-epoch measurements added by `epoch_hook`


STATUSES = ("finished", "stopped", "diverged", "early_stopped")
RESUMABLE = ("finished", "stopped")  # ends a run can go on from (Trainer.extend)


@dataclass
class RunResult:
    config: TrainConfig
    model: nn.Module
    status: str  # one of STATUSES
    steps: list[float]  # loss of every step this trainer ran (a run restored from the store: since then)
    epochs: list[EpochEvent]
    diverged_step: int | None = None  # the step whose loss was NaN, infinite or exploded
    best_epoch: int | None = None  # with early stopping: the epoch whose weights were kept

    @property
    def kept_epoch(self) -> EpochEvent | None:
        """The epoch whose weights `model` holds: early stopping's best one, else the last (None
        before the first epoch ends). Its val_acc is the model's, not the last epoch's."""
        if self.status == "early_stopped" and self.best_epoch is not None:
            return self.epochs[self.best_epoch - 1]
        return self.epochs[-1] if self.epochs else None


_init_lock = threading.Lock()  # the global RNG seeds weights and dropout; runs may share a process


def init_model(config: TrainConfig, device: torch.device) -> nn.Module:
    """The model for `config` with the initial weights its seed fixes."""
    with _init_lock:
        torch.manual_seed(config.seed)
        return config.architecture().to(device)


def combine_hooks(*hooks: Callable[[nn.Module, int], dict] | None) -> Callable[[nn.Module, int], dict]:
    """One epoch_hook that runs each of `hooks` (None ones skipped) and merges what they return."""
    chosen = [h for h in hooks if h is not None]
    return lambda model, epoch: {k: v for hook in chosen for k, v in hook(model, epoch).items()}


class Trainer:
    """Runs one training with `config` on `splits`; `run()` returns a RunResult.

    `on_event(event)` hears every StepEvent and EpochEvent; `should_stop()` is asked before
    every step; `epoch_hook(model, epoch)` may return a dict stored in the EpochEvent's `extra`
    (used to record gradient noise once per epoch).
    """

    def __init__(self, config: TrainConfig, splits: D.MnistSplits,
                 on_event: Callable[[object], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 epoch_hook: Callable[[nn.Module, int], dict] | None = None,
                 model: nn.Module | None = None,
                 on_checkpoint: Callable[[dict], None] | None = None):
        self.config = config.validate()
        try:
            self.device = pick_device(config.device)
        except DeviceError:
            raise ConfigError("no_gpu") from None
        self.splits = splits
        self.on_event = on_event or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.epoch_hook = epoch_hook
        self.on_checkpoint = on_checkpoint  # hears `checkpoint()` after every epoch: what going on needs
        self.model = model.to(self.device) if model is not None else init_model(config, self.device)
        # a CUDA graph replays one fixed piece of work: the same-sized batch cut from the same tensors
        # (and it always starts from cleared gradients: a run that forgets zero_grad trains eagerly)
        graphed = (config.cuda_graph and self.device.type == "cuda" and config.loader == "tensor"
                   and not config.augment and config.zero_grad)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.learning_rate,
                                        config.weight_decay, config.momentum, capturable=graphed)
        self.correct = torch.zeros((), dtype=torch.long, device=self.device)  # right answers this epoch,
        # counted on the device so that no step waits for it
        self.generator = torch.Generator().manual_seed(config.seed)  # batch order and augmentation
        limit = config.train_subset or None
        self.batch_size = config.minibatch(len(splits.train))  # "all" (FULL_BATCH) as a number of samples
        if config.model == "cnn" and self.batch_size > MAX_CNN_BATCH:  # a whole MNIST at once: several GB
            raise ConfigError("cnn_batch", batch=f"{self.batch_size:,}", most=f"{MAX_CNN_BATCH:,}")
        # None: a fresh shuffle every epoch, else the order every epoch repeats
        self.order = D.fixed_order(config.order, splits.train.labels[:limit], config.seed)
        if config.loader == "tensor":
            self.train_data = D.to_tensors(splits.train, self.device, limit)
            self.val_data = D.to_tensors(splits.val, self.device)
            self.n_train = len(self.train_data)
        else:
            self.train_loader = D.textbook_loader(splits, splits.train, self.batch_size,
                                                  shuffle=self.order is None, generator=self.generator,
                                                  drop_last=config.drop_last, limit=limit, order=self.order)
            self.val_loader = D.textbook_loader(splits, splits.val, self.batch_size, shuffle=False)
            self.n_train = len(self.train_loader.dataset)
        if self.n_train < 1:
            raise ConfigError("train_subset", value=config.train_subset)
        self.graphed = GraphedStep(self.model, self.optimizer, self.train_data.x, self.train_data.y,
                                   self.batch_size, self.correct, self._eager_step) if graphed else None
        # no other run may draw from the CUDA generator while a graph is recorded (core/cuda_graph.py)
        self._random_guard = CUDA_RANDOM if self.device.type == "cuda" else contextlib.nullcontext()
        self.result = RunResult(self.config, self.model, "finished", [], [])
        self._batches = None  # the epoch under way: its minibatches not yet trained on (None between epochs)
        self._loss_sum, self._seen, self._train_seconds = 0.0, 0, 0.0  # … and its sums so far
        self._best_val, self._best_state, self._since_best = math.inf, None, 0  # early stopping
        self.steps_done = 0  # steps trained over the whole run (a restored run counts its stored ones)

    def iterations_per_epoch(self) -> int:
        return D.batch_plan(self.n_train, self.batch_size, self.config.drop_last)[0]

    def _train_batches(self):
        """One epoch's minibatches: index tensors on the device (tensor path) or (x, y) from the DataLoader."""
        if self.config.loader == "tensor":
            return D.device_epoch(self.train_data, self.batch_size, self.generator, self.config.drop_last,
                                  self.order)
        return iter(self.train_loader)

    def _step(self, batch) -> tuple[float, int]:
        """Train on one minibatch; returns (its loss, its size). Counts right answers into self.correct."""
        if self.graphed is not None and len(batch) == self.batch_size:
            loss_value = self.graphed(batch)
            if diverged(loss_value):
                self.graphed.undo_update()  # keep the last sane weights, as train_step does
            return loss_value, len(batch)
        if self.config.loader == "tensor":
            x, y = self.train_data.x[batch], self.train_data.y[batch]
        else:
            x, y = batch[0].to(self.device), batch[1].to(self.device)
        if self.config.augment:
            x = D.augment(x, self.generator)
        return self._eager_step(x, y), len(y)

    def _eager_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        loss_value, logits = train_step(self.model, self.optimizer, x, y, self.config.zero_grad)
        self.correct += (logits.argmax(1) == y).sum()
        return loss_value

    def _val_batches(self):
        if self.config.loader == "tensor":
            return split_batches(self.val_data)
        return ((x.to(self.device), y.to(self.device)) for x, y in self.val_loader)

    def extend(self, epochs: int) -> None:
        """Let the next `run()` train `epochs` more epochs from where the last one ended, with the
        same model, optimizer state and batch order (a run of 3 epochs extended by 3 gives the
        curves of one 6-epoch run). An epoch cut short by a stop counts as the first of them."""
        if self.result.status not in RESUMABLE:
            raise ValueError(f"a run that ended {self.result.status!r} cannot go on")
        if not (isinstance(epochs, int) and epochs >= 1):
            raise ConfigError("epochs", value=epochs)
        self.config = replace(self.config, epochs=len(self.result.epochs) + epochs)
        self.result.config = self.config

    def run(self) -> RunResult:
        """Train until `config.epochs` are done, a stop is asked for, or the loss diverges; called
        again after `extend`, it goes on where it ended."""
        cfg, model, result = self.config, self.model, self.result
        result.status = "finished"
        while self._batches is not None or len(result.epochs) < cfg.epochs:
            if self._batches is None:  # a new epoch
                self._batches = iter(self._train_batches())
                self._loss_sum, self._seen, self._train_seconds = 0.0, 0, 0.0
                self.correct.zero_()
            epoch = len(result.epochs) + 1
            model.train()
            t0 = time.perf_counter()
            for batch in self._batches:
                if self.should_stop():
                    self._batches = itertools.chain([batch], self._batches)  # resumed, it trains on this one
                    self._train_seconds += time.perf_counter() - t0
                    result.status = "stopped"
                    return self._finish(result)
                with self._random_guard:
                    loss_value, size = self._step(batch)
                self.steps_done += 1
                step = self.steps_done
                result.steps.append(loss_value)
                self.on_event(StepEvent(epoch, step, loss_value))
                if diverged(loss_value):
                    result.status, result.diverged_step = "diverged", step
                    return self._finish(result)
                self._loss_sum += loss_value * size
                self._seen += size
            self._batches = None
            train_seconds = self._train_seconds + time.perf_counter() - t0
            t1 = time.perf_counter()
            val_loss, val_acc = evaluate(model, self._val_batches())
            extra = self.epoch_hook(model, epoch) if self.epoch_hook else {}
            seen = max(self._seen, 1)
            event = EpochEvent(epoch, len(result.steps), self._loss_sum / seen, self.correct.item() / seen,
                               val_loss, val_acc, train_seconds, train_seconds + time.perf_counter() - t1,
                               self._seen / train_seconds, extra)
            result.epochs.append(event)
            self.on_event(event)
            stop_early = cfg.patience and self._early_stop(epoch, val_loss)
            if self.on_checkpoint:
                self.on_checkpoint(self.checkpoint())
            if stop_early:
                result.status = "early_stopped"
                return self._finish(result)
        return self._finish(result)

    def checkpoint(self) -> dict:
        """What going on from the end of the last finished epoch needs, as CPU copies (another thread
        may save them while this one trains on): weights, optimizer state, the batch-order generator
        and early stopping's best so far. Plain tensors and numbers: `torch.load(weights_only=True)`
        reads them back."""
        return {"model": _to_cpu(self.model.state_dict()), "optimizer": _to_cpu(self.optimizer.state_dict()),
                "generator": self.generator.get_state(), "steps_done": self.steps_done,
                "best_val": self._best_val, "since_best": self._since_best, "best_epoch": self.result.best_epoch,
                "best_state": _to_cpu(self._best_state)}

    def restore(self, checkpoint: dict, epochs: list[EpochEvent]) -> None:
        """Take up a run saved by `checkpoint()` after its last epoch in `epochs` (e.g. from the store
        after a server restart): the next `run()` trains its next epoch. Status "stopped", so that
        `extend` may add epochs to it."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.generator.set_state(checkpoint["generator"])
        self.steps_done = checkpoint["steps_done"]
        self._best_val, self._since_best = checkpoint["best_val"], checkpoint["since_best"]
        self._best_state = checkpoint["best_state"]
        self.result = RunResult(self.config, self.model, "stopped", [], list(epochs),
                                best_epoch=checkpoint["best_epoch"])
        self._batches = None

    def _early_stop(self, epoch: int, val_loss: float) -> bool:
        """Keep the best epoch's weights; True after `patience` epochs without a better val loss."""
        if val_loss < self._best_val:
            self._best_val, self._since_best, self.result.best_epoch = val_loss, 0, epoch
            self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return False
        self._since_best += 1
        return self._since_best >= self.config.patience

    def _finish(self, result: RunResult) -> RunResult:
        """The run so far, with a copy of the model in evaluation mode: early stopping's is the best
        epoch's, every other end's the latest. Copies, so that a run that goes on (`extend`) never
        changes weights or curves a page is showing."""
        if self.graphed is not None:
            self.graphed.release()
        if result.status == "early_stopped" and self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        return replace(result, model=copy.deepcopy(self.model).eval(), steps=list(result.steps),
                       epochs=list(result.epochs))


def _to_cpu(value):
    """A copy of `value` (a tensor, or dicts and lists of them) on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def train(config: TrainConfig, splits: D.MnistSplits, **kwargs) -> RunResult:
    """Train a fresh model (or `model=`) with `config`; see Trainer for the keyword arguments."""
    return Trainer(config, splits, **kwargs).run()


def test_accuracy(model: nn.Module, splits: D.MnistSplits) -> float:
    """The final score on the test set: run once, after all tuning is done."""
    device = next(model.parameters()).device
    return evaluate(model, split_batches(D.to_tensors(splits.test, device)))[1]


# command line ---------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One clear line and exit code 2, instead of argparse's usage dump."""
        self.exit(2, f"error: {message} (see --help)\n")


def _hidden_widths(text: str) -> tuple[int, ...]:
    try:
        return parse_hidden(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("errors.hidden_text", "en", value=text)) from None


def _batch_size(text: str) -> int | str:
    try:
        return parse_batch_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("errors.batch_size", "en", value=text)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m core.train", description="Train the lesson's MNIST model and report each epoch.")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=_batch_size, default=64,
                   help=f"samples per minibatch, or {FULL_BATCH} for the whole training set (one update per epoch)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--model", choices=list(MODEL_NAMES), default="mlp")
    p.add_argument("--hidden", type=_hidden_widths, default=LESSON_HIDDEN,
                   help="the MLP's hidden layers' widths, e.g. 128,64 (default); 0 or \"\" for none; at most "
                        f"{MAX_HIDDEN_LAYERS} layers of 1 to {MAX_WIDTH} units")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default="relu",
                   help="after each of the MLP's hidden layers (none: the layers stay one linear map)")
    p.add_argument("--device", choices=list(DEVICE_CHOICES), default="auto")
    p.add_argument("--data-dir", default=None, help="folder with MNIST/raw/… (default: $TLL_DATA_DIR or ./data)")
    p.add_argument("--offline", action="store_true", help="never try to download MNIST")
    p.add_argument("--loader", choices=list(LOADERS), default="tensor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-subset", type=int, default=0, help="use only the first N training samples")
    p.add_argument("--augment", action="store_true")
    p.add_argument("--order", choices=list(D.ORDERS), default="shuffle",
                   help="the training samples' order each epoch: shuffled afresh (default), shuffled once, "
                        "as stored, or sorted by digit")
    p.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs (0 = off)")
    p.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=True,
                   help="on a GPU, replay each step as one CUDA graph instead of launching its kernels one "
                        "by one (default; --no-cuda-graph for the eager step)")
    p.add_argument("--zero-grad", action=argparse.BooleanOptionalAction, default=True,
                   help="clear the gradients before each backward (default; --no-zero-grad forgets "
                        "optimizer.zero_grad(), so the gradients accumulate)")
    p.add_argument("--save", default=None, help="write a checkpoint here when done")
    p.add_argument("--json", action="store_true", help="one JSON object per epoch, then {\"test_acc\": …}")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(model=args.model, hidden=args.hidden, activation=args.activation, batch_size=args.batch_size,
                       learning_rate=args.lr, optimizer=args.optimizer, momentum=args.momentum,
                       weight_decay=args.weight_decay,
                       dropout=args.dropout, batchnorm=args.batchnorm, epochs=args.epochs, seed=args.seed,
                       device=args.device, loader=args.loader, train_subset=args.train_subset,
                       augment=args.augment, order=args.order, patience=args.patience, zero_grad=args.zero_grad,
                       cuda_graph=args.cuda_graph)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args).validate()
        pick_device(config.device)
    except (ConfigError, DeviceError) as exc:
        parser.error(str(exc))
    try:
        splits = D.load_splits(args.data_dir, download=False if args.offline else None)
    except D.DataError as exc:
        parser.exit(1, f"error: {exc}\n")
    out = sys.stdout

    def report(event):
        if not isinstance(event, EpochEvent):
            return
        row = {"epoch": event.epoch, "train_loss": event.train_loss, "train_acc": event.train_acc,
               "val_loss": event.val_loss, "val_acc": event.val_acc, "train_seconds": event.train_seconds,
               "seconds": event.seconds, "samples_per_s": event.samples_per_s}
        if args.json:
            print(json.dumps(row), file=out, flush=True)
        else:
            print(f"epoch {event.epoch}: train loss {event.train_loss:.4f} acc {event.train_acc:.3f} | "
                  f"val loss {event.val_loss:.4f} acc {event.val_acc:.3f} | {event.seconds:.2f} s "
                  f"({event.samples_per_s:,.0f} samples/s)", file=out, flush=True)

    if not args.json:
        print(f"data: {splits.describe()}", file=out)
        print(f"device: {pick_device(config.device)}", file=out, flush=True)
    result = train(config, splits, on_event=report)
    test_acc = test_accuracy(result.model, splits)
    if args.save:
        from core.checkpoint import save_checkpoint  # here: core.checkpoint imports this module

        save_checkpoint(args.save, result.model, config)
    if args.json:
        final = {"test_acc": test_acc, "status": result.status}
        if result.diverged_step is not None:
            final["diverged_step"] = result.diverged_step
        print(json.dumps(final), file=out)
    else:
        if result.status == "diverged":
            print(t("errors.diverged", "en", step=result.diverged_step), file=out)
        print(f"test accuracy: {test_acc:.4f}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
