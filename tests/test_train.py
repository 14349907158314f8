"""The training loop: optimizers, divergence, stopping, determinism, checkpoints, model shapes."""
import json
import math
from dataclasses import replace

import pytest
import torch
from torch.utils.data import SequentialSampler

from core import data as D
from core.models import MLP
from core.noise import intra_op_threads
from core.train import (OPTIMIZERS, ConfigError, EpochEvent, StepEvent, TrainConfig, Trainer, diverged, init_model,
                        make_optimizer, train, train_step)

TINY = dict(train_subset=512, epochs=1, device="cpu")


def test_every_optimizer_lowers_the_loss_on_a_tiny_set(splits):
    data = D.to_tensors(splits.train, limit=128)
    lrs = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05}
    for name in OPTIMIZERS:
        torch.manual_seed(0)
        model = MLP()
        opt = make_optimizer(name, model.parameters(), lrs.get(name, 1e-3))
        first, _ = train_step(model, opt, data.x, data.y)
        for _ in range(30):
            last, _ = train_step(model, opt, data.x, data.y)
        assert last < 0.7 * first, f"{name}: {first:.3f} → {last:.3f}"


def test_events_report_each_step_and_epoch(splits):
    events = []
    result = train(TrainConfig(batch_size=128, **{**TINY, "epochs": 2}), splits, on_event=events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert len(steps) == 2 * 4 and [e.step for e in steps] == list(range(1, 9))
    assert [e.epoch for e in epochs] == [1, 2]
    assert result.status == "finished" and result.steps == [e.loss for e in steps]
    e = epochs[-1]
    assert 0 <= e.val_acc <= 1 and e.val_loss > 0 and e.seconds >= e.train_seconds > 0 and e.samples_per_s > 0
    assert not result.model.training  # handed back in evaluation mode


def test_a_run_learns_mnist(splits):
    result = train(TrainConfig(epochs=3, device="cpu"), splits)
    assert result.epochs[-1].val_acc > 0.85
    assert result.epochs[-1].val_loss < result.epochs[0].val_loss


@pytest.mark.parametrize("lr", [1.0, 1e4])
def test_huge_learning_rate_diverges_and_says_at_which_step(splits, lr):
    config = TrainConfig(optimizer="sgd", learning_rate=lr, batch_size=1, epochs=1, train_subset=200, device="cpu")
    result = train(config, splits)
    assert result.status == "diverged"
    assert result.diverged_step is not None and result.diverged_step <= 50
    assert diverged(result.steps[-1]) and len(result.steps) == result.diverged_step
    assert not any(diverged(loss) for loss in result.steps[:-1])
    assert all(torch.isfinite(p).all() for p in result.model.parameters())  # last sane weights kept


def test_divergence_means_nan_infinite_or_exploded():
    assert diverged(math.nan) and diverged(math.inf) and diverged(5e3)
    assert not diverged(2.3) and not diverged(40.0)


def test_stop_request_ends_the_run_within_one_step(splits):
    seen = []
    result = train(TrainConfig(batch_size=16, **TINY), splits, on_event=seen.append,
                   should_stop=lambda: len(seen) >= 5)
    assert result.status == "stopped" and len(result.steps) == 5
    assert result.epochs == []


def test_same_seed_gives_identical_curves_on_cpu(splits):
    config = TrainConfig(batch_size=64, dropout=0.3, **TINY)
    a, b = train(config, splits), train(config, splits)
    assert a.steps == b.steps
    other = train(TrainConfig(batch_size=64, dropout=0.3, seed=1, **TINY), splits)
    assert other.steps != a.steps
    assert TrainConfig().cuda_graph  # on by default, and a GPU matter: on the CPU the step is the same
    graph_off = train(TrainConfig(batch_size=64, dropout=0.3, cuda_graph=False, **TINY), splits)
    assert graph_off.steps == a.steps


def weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("loader", ["tensor", "dataloader"])
def test_a_run_extended_by_two_epochs_is_one_run_of_four(splits, loader):
    config = TrainConfig(batch_size=64, dropout=0.3, loader=loader, **{**TINY, "epochs": 2})
    whole = train(replace(config, epochs=4), splits)
    trainer = Trainer(config, splits)
    first = trainer.run()
    shown = weights(first.model)
    trainer.extend(2)
    more = trainer.run()
    assert more.status == "finished" and more.config.epochs == 4
    assert more.steps == whole.steps and [e.epoch for e in more.epochs] == [1, 2, 3, 4]
    assert [e.val_loss for e in more.epochs] == [e.val_loss for e in whole.epochs]
    assert all(torch.equal(a, b) for a, b in zip(weights(more.model), weights(whole.model)))
    assert all(torch.equal(a, b) for a, b in zip(weights(first.model), shown))  # what a page showed stays


def test_a_stopped_run_resumes_inside_its_epoch_as_if_never_stopped(splits):
    config = TrainConfig(batch_size=64, **{**TINY, "epochs": 2})  # 8 steps per epoch
    whole = train(config, splits)
    steps = []
    trainer = Trainer(config, splits, on_event=lambda e: steps.append(e) if isinstance(e, StepEvent) else None,
                      should_stop=lambda: len(steps) == 5)
    stopped = trainer.run()
    assert stopped.status == "stopped" and len(stopped.steps) == 5 and stopped.epochs == []
    trainer.should_stop = lambda: False
    trainer.extend(2)  # the cut-short epoch is the first of the two
    resumed = trainer.run()
    assert resumed.steps == whole.steps and [s.step for s in steps] == list(range(1, 17))
    assert [e.train_loss for e in resumed.epochs] == [e.train_loss for e in whole.epochs]
    assert [e.val_acc for e in resumed.epochs] == [e.val_acc for e in whole.epochs]


def test_a_diverged_or_early_stopped_run_cannot_go_on(splits):
    boom = Trainer(TrainConfig(optimizer="sgd", learning_rate=1e4, batch_size=1, epochs=1, train_subset=200,
                               device="cpu"), splits)
    assert boom.run().status == "diverged"
    with pytest.raises(ValueError, match="diverged"):
        boom.extend(1)
    fine = Trainer(TrainConfig(**TINY), splits)
    fine.run()
    with pytest.raises(ConfigError) as err:
        fine.extend(0)
    assert err.value.key == "epochs"


def test_dataloader_path_trains_the_same_model(splits):
    fast = train(TrainConfig(batch_size=64, **TINY), splits)
    textbook = train(TrainConfig(batch_size=64, loader="dataloader", **TINY), splits)
    assert len(fast.steps) == len(textbook.steps) == 8
    assert abs(fast.epochs[-1].val_acc - textbook.epochs[-1].val_acc) < 0.1


def test_early_stopping_keeps_the_best_epoch(splits):
    config = TrainConfig(batch_size=32, train_subset=64, epochs=30, patience=2, device="cpu", learning_rate=3e-3)
    result = train(config, splits)
    assert result.status == "early_stopped"
    best = min(result.epochs, key=lambda e: e.val_loss)
    assert result.best_epoch == best.epoch and len(result.epochs) == best.epoch + 2
    assert result.kept_epoch is best  # the epoch the model's weights and accuracy come from, not the last


@pytest.mark.parametrize("field,value,key", [
    ("batch_size", 0, "batch_size"), ("learning_rate", -1.0, "learning_rate"), ("dropout", 1.0, "dropout"),
    ("optimizer", "magic", "optimizer"), ("epochs", 0, "epochs"), ("model", "rnn", "model"),
    ("order", "random", "order"),
])
def test_impossible_settings_are_refused_in_words(field, value, key):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: value}).validate()
    assert err.value.key == key and str(value) in str(err.value)


@pytest.mark.parametrize("hidden,activation,key,words", [
    ((16,) * 5, "relu", "hidden_layers", "at most 4 hidden layers (got (16, 16, 16, 16, 16))"),
    ((128, 0), "relu", "hidden_width", "1 to 1024 units (got 0)"),
    ((2048,), "relu", "hidden_width", "1 to 1024 units (got 2048)"),
    (("wide",), "relu", "hidden_width", "(got wide)"),
    ("128", "relu", "hidden_layers", "(got 128)"),
    ((128, 64), "swish", "activation", 'no activation function called "swish". Choose one of: relu, tanh, sigmoid'),
])
def test_nonsense_model_shapes_are_refused_in_words(hidden, activation, key, words):
    with pytest.raises(ConfigError) as err:
        TrainConfig(hidden=hidden, activation=activation).validate()
    assert err.value.key == key and words in str(err.value)


# The lesson's model trained with the default settings (2 epochs, seed 0, bundled sample, one CPU thread:
# more threads sum in another order), measured before hidden layers and activations became settings.
# (train loss, validation loss) per epoch: the default must stay bit for bit what it was.
LESSON_LOSSES = [(0.9925867731571197, 0.45475714111328125), (0.40138471019268035, 0.35108782958984375)]
WITH_BN_AND_DROPOUT = [(1.6469093132019044, 1.0011891479492188), (1.005650463104248, 0.6992828369140625)]


@pytest.mark.parametrize("settings,losses", [
    ({}, LESSON_LOSSES), (dict(dropout=0.3, batchnorm=True, train_subset=2000), WITH_BN_AND_DROPOUT)],
    ids=["lesson", "batchnorm-dropout"])
def test_the_lessons_model_trains_bit_for_bit_as_before_shapes_were_settings(splits, settings, losses):
    with intra_op_threads(1):
        result = train(TrainConfig(epochs=2, device="cpu", **settings), splits)
    assert [(e.train_loss, e.val_loss) for e in result.epochs] == losses


@pytest.mark.parametrize("hidden,activation", [((), "tanh"), ((64, 64, 64, 64), "sigmoid"), ((128, 64), "none")])
def test_every_shape_trains_and_its_settings_survive_json(splits, hidden, activation):
    config = TrainConfig(hidden=hidden, activation=activation, **TINY)
    again = TrainConfig.from_dict(json.loads(config.to_json()))  # as a checkpoint or the run store keeps it
    assert again == config and again.hidden == hidden
    result = train(config, splits)
    assert result.status == "finished" and result.model.hidden_sizes == hidden
    assert result.model.activation == activation and math.isfinite(result.epochs[-1].val_loss)


def test_asking_for_a_missing_gpu_is_refused(splits, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no GPU"):
        train(TrainConfig(**{**TINY, "device": "cuda"}), splits)


def test_server_default_device_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TLL_DEVICE", "cpu")
    assert TrainConfig().device == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("TLL_DEVICE", "cuda")  # no GPU here: fall back to auto rather than fail every run
    assert TrainConfig().device == "auto"


# 1 epoch of TINY with batch 64 (one CPU thread), measured before the sample order became a setting
SHUFFLED_LOSSES = {"tensor": (2.1969808638095856, 2.0778046875), "dataloader": (2.2000398337841034, 2.037307861328125)}


@pytest.mark.parametrize("loader", ["tensor", "dataloader"])
def test_the_default_order_is_the_shuffle_it_always_was(splits, loader):
    with intra_op_threads(1):
        default = train(TrainConfig(batch_size=64, loader=loader, **TINY), splits)
        shuffled = train(TrainConfig(batch_size=64, loader=loader, order="shuffle", **TINY), splits)
    assert TrainConfig().order == "shuffle" and shuffled.steps == default.steps
    assert (default.epochs[0].train_loss, default.epochs[0].val_loss) == SHUFFLED_LOSSES[loader]


def epochs_of_labels(config: TrainConfig, splits, epochs: int = 2) -> list[list[list[int]]]:
    """The digits of each minibatch of the first `epochs` epochs, as the Trainer would train on them."""
    trainer = Trainer(config, splits)
    if config.loader == "tensor":
        return [[trainer.train_data.y[b].tolist() for b in trainer._train_batches()] for _ in range(epochs)]
    return [[y.tolist() for _, y in trainer._train_batches()] for _ in range(epochs)]


@pytest.mark.parametrize("loader", ["tensor", "dataloader"])
def test_sorted_order_gives_one_digit_minibatches_except_where_the_digit_changes(splits, loader):
    config = TrainConfig(batch_size=32, loader=loader, order="sorted", **TINY)
    first, second = epochs_of_labels(config, splits)
    labels = [d for batch in first for d in batch]
    assert first == second and labels == sorted(splits.train.labels[:512].tolist())
    mixed = [batch for batch in first if len(set(batch)) > 1]
    assert 0 < len(mixed) <= 9 and all(len(set(batch)) == 2 for batch in mixed)  # each holds one change of digit
    if loader == "tensor":  # stable: within a digit, the samples keep their stored order
        stored = splits.train.labels[:512].tolist()
        order = torch.cat(Trainer(config, splits)._train_batches()).tolist()
        assert order == sorted(range(512), key=stored.__getitem__)


@pytest.mark.parametrize("loader", ["tensor", "dataloader"])
def test_fixed_order_repeats_one_shuffle_and_file_order_is_the_stored_one(splits, loader):
    fixed = epochs_of_labels(TrainConfig(batch_size=64, loader=loader, order="fixed", **TINY), splits)
    shuffled = epochs_of_labels(TrainConfig(batch_size=64, loader=loader, **TINY), splits)
    assert fixed[0] == fixed[1] and fixed[1] != shuffled[1]
    if loader == "tensor":  # shuffled once with the run's seed: the fast path's first shuffled epoch
        assert fixed[0] == shuffled[0]
    stored = splits.train.labels[:512].tolist()
    file_order = epochs_of_labels(TrainConfig(batch_size=64, loader=loader, order="file", **TINY), splits)
    assert [d for batch in file_order[0] for d in batch] == stored and file_order[0] == file_order[1]
    trainer = Trainer(TrainConfig(batch_size=64, loader=loader, order="file", **TINY), splits)
    if loader == "tensor":
        assert torch.cat(trainer._train_batches()).tolist() == list(range(512))
    else:  # DataLoader(shuffle=False)
        assert isinstance(trainer.train_loader.sampler, SequentialSampler)


# full batch and forgotten zero_grad ---------------------------------------------------------------

def plain_sgd(**settings) -> TrainConfig:
    return TrainConfig(**{**TINY, "optimizer": "sgd", "learning_rate": 0.1, **settings})


def minibatch_grads(model, x, y) -> list[torch.Tensor]:
    """∇ of the mean cross-entropy on (x, y) at the model's weights now, without touching .grad."""
    loss = torch.nn.functional.cross_entropy(model(x), y)
    return [g.detach() for g in torch.autograd.grad(loss, list(model.parameters()))]


def test_full_batch_is_one_step_per_epoch_along_the_exact_gradient(splits):
    config = plain_sgd(batch_size="all", epochs=2)
    data = D.to_tensors(splits.train, limit=config.train_subset)
    start = init_model(config, torch.device("cpu"))
    expected = [p.detach() - config.learning_rate * g for p, g in zip(start.parameters(),
                                                                         minibatch_grads(start, data.x, data.y))]
    trainer = Trainer(replace(config, epochs=1), splits)
    assert trainer.iterations_per_epoch() == 1
    result = trainer.run()
    assert len(result.steps) == 1 and result.epochs[0].step == 1
    assert all(torch.allclose(p, want, atol=1e-6, rtol=0) for p, want in zip(weights(result.model), expected))
    assert len(train(config, splits).steps) == 2
    assert config.minibatch(len(splits.train)) == 512 and TrainConfig(batch_size="all").minibatch(8000) == 8000


def test_without_zero_grad_the_gradient_is_the_sum_of_every_step_so_far(splits):
    config = plain_sgd(learning_rate=0.05, batch_size=64, train_subset=6 * 64)  # one epoch: 6 steps
    data = D.to_tensors(splits.train, limit=config.train_subset)
    model = init_model(config, torch.device("cpu"))
    optimizer = make_optimizer("sgd", model.parameters(), config.learning_rate)
    total = [torch.zeros_like(p) for p in model.parameters()]
    batches = D.epoch_indices(len(data), 64, torch.Generator().manual_seed(config.seed))  # the Trainer's order
    for idx in batches:
        seen = minibatch_grads(model, data.x[idx], data.y[idx])  # at the weights this step sees
        total = [t + g for t, g in zip(total, seen)]
        train_step(model, optimizer, data.x[idx], data.y[idx], zero_grad=False)
        assert all(torch.allclose(p.grad, t, atol=1e-6, rtol=0) for p, t in zip(model.parameters(), total))
    assert not all(torch.allclose(t, g, atol=1e-3) for t, g in zip(total, seen))  # the sum is not the last one
    forgetful = Trainer(replace(config, zero_grad=False), splits)
    assert forgetful.run().steps != train(config, splits).steps
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(forgetful.model.parameters(), model.parameters()))


def test_the_default_run_still_calls_zero_grad():
    config = TrainConfig()
    assert config.zero_grad and config.batch_size == 64
    assert TrainConfig.from_dict(json.loads(TrainConfig(batch_size="all", zero_grad=False).to_json())) == TrainConfig(
        batch_size="all", zero_grad=False)  # as the run store keeps it
    with pytest.raises(ConfigError, match='or "all"'):
        TrainConfig(batch_size="everything").validate()


def test_a_cnn_refuses_a_minibatch_too_big_for_memory_in_words(splits):
    from core.train import MAX_CNN_BATCH

    t = splits.train  # 16,000 training samples: the bundled 8,000 twice
    big = replace(splits, train=D.Subset(torch.cat([t.images] * 2), torch.cat([t.labels] * 2),
                                         torch.cat([t.indices] * 2), t.in_test_file))
    assert len(big.train) > MAX_CNN_BATCH
    with pytest.raises(ConfigError, match="at most 8,192"):
        Trainer(TrainConfig(model="cnn", batch_size="all", epochs=1, device="cpu"), big)
    Trainer(TrainConfig(model="cnn", batch_size="all", epochs=1, device="cpu"), splits)  # the bundled 8,000: fine
