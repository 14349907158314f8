"""Gradient noise: exact per-sample gradients, exact minibatch deviations, and the 1/B law they obey."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from core import data as D
from core import noise
from core.i18n import t
from core.models import build_model
from core.pretrained import default_model
from core.checkpoint import save_checkpoint
from core.train import Trainer, TrainConfig, train


def fresh(name: str, dropout: float = 0.0, batchnorm: bool = False, dtype=torch.float64, **shape):
    """A fresh model (`shape`: the MLP's hidden= and activation=); with BatchNorm its running statistics
    are made non-trivial, so eval mode matters."""
    model = build_model(name, dropout, batchnorm, **shape).to(dtype)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.train()  # as a model arrives from training; measuring must switch to eval itself


def samples(splits, n: int, dtype=torch.float64):
    data = D.to_tensors(splits.train, limit=n)
    return data.x.to(dtype), data.y


def loop_grads(model, x, y) -> list[list[torch.Tensor]]:
    """The plain reference: one backward per sample, in eval mode."""
    model.eval()
    return [torch.autograd.grad(F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]), list(model.parameters()))
            for i in range(len(y))]


def flat(grads) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads])


VARIANTS = [("mlp", 0.0, False), ("mlp", 0.5, True), ("cnn", 0.0, False), ("cnn", 0.5, True)]


@pytest.mark.parametrize("name,dropout,batchnorm", VARIANTS)
def test_fast_per_sample_norms_equal_a_plain_loop(splits, name, dropout, batchnorm):
    """MLP: activations × backprop signals; CNN: chunked vmap. Both to 1e-4 relative, dropout or not."""
    model = fresh(name, dropout, batchnorm)
    x, y = samples(splits, 12)
    reference = torch.stack([flat(g).pow(2).sum() for g in loop_grads(model, x, y)])
    model.train()
    with noise.evaluation_mode(model):
        grads = noise.per_sample_gradients(model, x, y)
        fast = grads.sq_norms()
    assert isinstance(grads, noise.LinearGrads if name == "mlp" else noise.VmapGrads)
    assert model.training  # the mode it came in with is restored
    assert torch.allclose(fast, reference, rtol=1e-4, atol=0)


@pytest.mark.parametrize("hidden,activation", [((), "tanh"), ((64, 64, 64, 64), "sigmoid"), ((128, 64), "none")])
def test_exact_per_sample_norms_for_any_stack_of_linear_layers(splits, hidden, activation):
    model = fresh("mlp", 0.3, True, hidden=hidden, activation=activation)
    x, y = samples(splits, 12)
    per_sample = torch.stack([flat(g) for g in loop_grads(model, x, y)])  # (N, P), one backward per sample
    with noise.evaluation_mode(model):
        grads = noise.per_sample_gradients(model, x, y)
        assert isinstance(grads, noise.LinearGrads)
        assert torch.allclose(grads.sq_norms(), per_sample.pow(2).sum(1), rtol=1e-9, atol=0)
    full = per_sample.mean(0)
    scale = noise.noise_scale(model, x, y)
    assert scale.trace_sigma == pytest.approx((per_sample - full).pow(2).sum(1).mean().item(), rel=1e-9)
    assert scale.grad_norm_sq == pytest.approx(full.pow(2).sum().item(), rel=1e-9)


def test_fast_path_agrees_in_float32_too(splits):
    """In float32 the paths round differently; on a fresh model (no over-confident sample whose tiny
    gradient is mostly rounding error) they still agree to 1e-4 per sample."""
    model = fresh("mlp", dtype=torch.float32)
    x, y = samples(splits, 200, torch.float32)
    with noise.evaluation_mode(model):
        fast = noise.LinearGrads(model, x, y).sq_norms()
        slow = noise.VmapGrads(model, x, y).sq_norms()
    assert ((fast - slow).abs() / slow).max() < 1e-4


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_full_gradient_projections_and_trace_match_the_loop(splits, name):
    model = fresh(name, 0.3, True)
    x, y = samples(splits, 10)
    per_sample = torch.stack([flat(g) for g in loop_grads(model, x, y)])  # (N, P)
    full = per_sample.mean(0)
    trace = (per_sample - full).pow(2).sum(1).mean()  # tr(Σ), Σ with 1/N
    scale = noise.noise_scale(model, x, y)
    assert scale.trace_sigma == pytest.approx(trace.item(), rel=1e-9)
    assert scale.grad_norm_sq == pytest.approx(full.pow(2).sum().item(), rel=1e-9)
    assert scale.b_simple == pytest.approx(scale.trace_sigma / scale.grad_norm_sq)
    assert scale.trace_sigma == pytest.approx((per_sample.pow(2).sum(1).mean() - full.pow(2).sum()).item(), rel=1e-9)
    with noise.evaluation_mode(model):  # projections g_i·Ĝ, in either path's own coordinates
        grads = noise.per_sample_gradients(model, x, y)
        g = noise.full_gradient(grads)
        along = grads.dot(noise.scaled(g, 1 / math.sqrt(noise.vdot(g, g).item())))
    assert torch.allclose(along, per_sample @ full / full.norm(), rtol=1e-9)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_minibatch_deviations_are_exact(splits, name):
    """‖g_B − G‖² of drawn batches equals the one autograd computes for that batch's mean loss."""
    model = fresh(name, 0.2, True)
    x, y = samples(splits, 24)
    params = list(model.eval().parameters())
    full = flat(torch.autograd.grad(F.cross_entropy(model(x), y), params))
    order = noise.draw_orders(24, 11, 2, torch.Generator().manual_seed(1))
    sizes = [1, 4, 5, 11]
    with noise.evaluation_mode(model):
        grads = noise.per_sample_gradients(model, x, y)
        devs, sums = grads.batch_sq_norms(order, sizes, noise.full_gradient(grads))  # ‖Σ g_i − B·G‖², ‖Σ g_i‖²
    for d in range(2):
        for k, b in enumerate(sizes):
            idx = order[d, :b]
            g_b = flat(torch.autograd.grad(F.cross_entropy(model(x[idx]), y[idx]), params))
            assert devs[d, k] / b ** 2 == pytest.approx((g_b - full).pow(2).sum().item(), rel=1e-9)
            assert sums[d, k] / b ** 2 == pytest.approx(g_b.pow(2).sum().item(), rel=1e-9)


def test_draws_are_without_replacement_and_reproducible():
    a = noise.draw_orders(50, 20, 30, torch.Generator().manual_seed(3))
    b = noise.draw_orders(50, 20, 30, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (30, 20)
    assert all(len(set(row.tolist())) == 20 for row in a)


@pytest.fixture(scope="module")
def trained(splits):
    """An MLP after one epoch on 1,000 samples: per-sample gradients now differ a lot (a heavy tail)."""
    return train(TrainConfig(epochs=1, train_subset=1000, device="cpu"), splits).model


def test_the_mean_of_many_minibatch_gradients_approaches_G(splits, trained):
    x, y = samples(splits, 1000, torch.float32)
    n, b = len(y), 16
    with noise.evaluation_mode(trained):
        grads = noise.per_sample_gradients(trained, x, y)
        full = noise.full_gradient(grads)
        scale = noise.scale_from(grads, full)
        errors = {}
        for draws in (10, 100, 1000):
            order = noise.draw_orders(n, b, draws, torch.Generator().manual_seed(draws))
            counts = torch.bincount(order.flatten(), minlength=n).float()
            mean = grads.weighted_sum(counts / (draws * b))  # the mean of the `draws` minibatch gradients
            errors[draws] = noise.vdot([m - f for m, f in zip(mean, full)], [m - f for m, f in zip(mean, full)]).item()
    expected = {d: noise.predicted_deviation(scale.trace_sigma, n, b) / d for d in errors}  # E‖mean − G‖²
    assert errors[1000] < errors[100] < errors[10]
    assert all(errors[d] < 3 * expected[d] for d in errors)
    assert errors[1000] < 0.01 * scale.grad_norm_sq  # 1,000 minibatches: within 10 % of ‖G‖


def test_measured_variance_follows_the_theory_line(splits, trained):
    """E‖g_B − G‖² within 15 % of tr(Σ)/B · (N − B)/(N − 1) for B ≤ N/10; log-log slope in [−1.15, −0.85]."""
    x, y = samples(splits, 1000, torch.float32)
    sizes = [1, 2, 4, 8, 16, 32, 64, 100]
    report = noise.measure(trained, x, y, sizes, draws=400, seed=0)
    for s in report.sizes:
        assert s.measured == pytest.approx(s.predicted, rel=0.15), s.batch_size
    log_b = torch.tensor(sizes, dtype=torch.float64).log()
    log_m = torch.tensor([s.measured for s in report.sizes]).log()
    slope = ((log_b - log_b.mean()) * (log_m - log_m.mean())).sum() / (log_b - log_b.mean()).pow(2).sum()
    assert -1.15 <= slope.item() <= -0.85
    cosines = [s.cosine for s in report.sizes]
    assert cosines == sorted(cosines) and cosines[-1] > 0.5  # larger batches point the way of G


def test_cosines_are_right_when_a_batch_has_almost_no_gradient(splits):
    """A well-trained model classifies most digits with ~100 % confidence: their gradients are tiny.
    At B = 1 every drawn cosine must still be cos(g_i, G) of some sample i, from autograd."""
    model = default_model(splits).model  # trained on all 8,000 for 10 epochs
    x, y = samples(splits, 1000, torch.float32)
    params = list(model.parameters())
    full = flat(torch.autograd.grad(F.cross_entropy(model(x), y), params))
    per_sample = torch.stack([flat(g) for g in loop_grads(model, x, y)])
    sq_norms = per_sample.pow(2).sum(1)
    assert (sq_norms < 1e-6 * sq_norms.mean()).sum() > 100  # many digits are learnt: almost no gradient
    along = per_sample @ (full / full.norm())  # g_i·Ĝ: tells which sample a draw of B = 1 took
    cosines = F.cosine_similarity(per_sample, full[None], dim=1)
    ones = noise.measure(model, x, y, [1, 100], draws=200, seed=0).sizes[0]
    for drawn_along, drawn_cosine in zip(ones.along.tolist(), ones.cosines.tolist()):
        i = (along - drawn_along).abs().argmin()
        assert along[i].item() == pytest.approx(drawn_along, rel=1e-3, abs=1e-6)
        assert drawn_cosine == pytest.approx(cosines[i].item(), abs=1e-3), sq_norms[i].item()


def test_measure_leaves_the_model_as_it_was(splits):
    model = fresh("mlp", 0.5, True, torch.float32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = samples(splits, 300, torch.float32)
    first = noise.measure(model, x, y, [1, 8, 64], draws=5, seed=2)
    second = noise.measure(model, x, y, [1, 8, 64], draws=5, seed=2)
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert [s.as_dict() for s in first.sizes] == [s.as_dict() for s in second.sizes]  # dropout plays no part


def test_epoch_hook_records_noise_without_changing_training(splits):
    config = TrainConfig(epochs=2, train_subset=300, batch_size=32, dropout=0.3, device="cpu")
    hook = noise.make_epoch_hook(D.to_tensors(splits.train), n_samples=200)
    with_hook = Trainer(config, splits, epoch_hook=hook).run()
    without = Trainer(config, splits).run()
    assert with_hook.steps == without.steps  # same losses: the hook touched no weights and no random stream
    for event in with_hook.epochs:
        assert set(event.extra) == {"trace_sigma", "grad_norm_sq", "b_simple"}
        assert event.extra["b_simple"] == pytest.approx(event.extra["trace_sigma"] / event.extra["grad_norm_sq"])
        assert all(math.isfinite(v) and v > 0 for v in event.extra.values())


def test_bad_settings_get_a_clear_message_in_both_languages():
    with pytest.raises(noise.NoiseError) as err:
        noise.check_settings(100, [1, 100], 10)
    assert "100" in str(err.value)
    assert t(err.value.key, "ja", **err.value.params).startswith("バッチサイズ")
    with pytest.raises(noise.NoiseError):
        noise.check_settings(100, [4], 0)
    with pytest.raises(noise.NoiseError):
        noise.check_settings(1, [1], 5)
    assert noise.check_settings(100, [8, 1, 8], 5) == [1, 8]


def test_cli_prints_one_json_line_per_batch_size_then_the_noise_scale(splits, tmp_path, capsys):
    assert noise.main(["--json", "--offline", "--samples", "300", "--batch-sizes", "1,4,16", "--draws", "4"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["batch_size"] for row in lines[:3]] == [1, 4, 16]
    assert all(set(row) == {"batch_size", "measured", "predicted", "cosine"} for row in lines[:3])
    assert set(lines[3]) == {"trace_sigma", "grad_norm_sq", "b_simple"} and len(lines) == 4
    model = train(TrainConfig(epochs=1, train_subset=200, device="cpu"), splits).model
    save_checkpoint(tmp_path / "m.pt", model, TrainConfig())
    assert noise.main(["--json", "--offline", "--checkpoint", str(tmp_path / "m.pt"), "--samples", "300",
                       "--batch-sizes", "2,8", "--draws", "3"]) == 0
    trained_scale = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert trained_scale["b_simple"] != lines[3]["b_simple"]


@pytest.mark.parametrize("args", [["--batch-sizes", "0,4"], ["--batch-sizes", "two"], ["--draws", "0"],
                                  ["--samples", "-3"], ["--checkpoint", "/no/such/file.pt"]])
def test_cli_refuses_bad_settings_with_one_line(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        noise.main(["--json", "--offline", "--samples", "300", *args])  # a later option wins
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_intra_op_threads_is_set_for_a_while_and_restored():
    before = torch.get_num_threads()
    with noise.intra_op_threads(1):
        assert torch.get_num_threads() == 1
    with noise.intra_op_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before
