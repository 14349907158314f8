"""SGD gradient noise, measured exactly on the real model: how minibatch gradients scatter around G.

    python -m core.noise --json --samples 8000 --draws 50

Notation. N samples, per-sample loss ℓ_i (cross-entropy), per-sample gradient g_i = ∇ℓ_i, and the
full ("true") gradient G = (1/N) Σ g_i: what `loss.backward()` gives for the mean loss over all N.
A minibatch of B samples drawn without replacement has gradient g_B = (1/B) Σ_{i∈batch} g_i and
E[g_B] = G. Its scatter is measured by the per-sample covariance, with the 1/N convention:

    Σ = (1/N) Σ_i (g_i − G)(g_i − G)ᵀ,   so   tr(Σ) = mean_i ‖g_i‖² − ‖G‖²   exactly, and
    E‖g_B − G‖² = tr(Σ)/B · (N − B)/(N − 1)     (finite population, without replacement).

(With the 1/(N−1) convention S = N/(N−1)·Σ the same law reads tr(S)/B · (N − B)/N.)
The gradient noise scale is B_simple = tr(Σ)/‖G‖² (McCandlish et al. 2018): at B = B_simple (≪ N)
the expected noise E‖g_B − G‖² is about as large as the signal ‖G‖².

Everything is measured in evaluation mode: dropout off and BatchNorm on its running statistics,
so a sample's gradient depends on that sample only and the one source of randomness is which
samples form the minibatch. Training mode would add dropout's own noise and couple the samples of
a batch through BatchNorm, and "per-sample gradient" would no longer be defined.

Per-sample gradients are never stored for all N at once:
- `LinearGrads` (the MLP: Linear and BatchNorm1d layers): one forward keeps each layer's input a_i,
  one backward to the layer outputs gives the signals δ_i, and sample i's gradient of a Linear
  layer is the outer product δ_i [a_i, 1]ᵀ, so ‖g_i‖² = Σ_layers ‖δ_i‖²(‖a_i‖² + 1): a few matmuls.
- `VmapGrads` (any model, the CNN): `torch.func.vmap(grad(...))` over chunks of samples.
Both offer the same four operations (sq_norms, weighted_sum, dot, batch_sq_norms), and everything
else is written once on top of them.
"""
import argparse
import json
import math
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from core import data as D
from core.i18n import t
from core.checkpoint import CheckpointError, load_checkpoint
from core.train import TrainConfig, _Parser, init_model

DEFAULT_BATCH_SIZES = tuple(2 ** k for k in range(11))  # 1, 2, 4, …, 1024
DEFAULT_DRAWS = 50  # minibatches drawn per batch size
POWER_STEPS = 2  # power-iteration steps for the picture's second axis
CHUNK_FLOATS = 2 ** 23  # bound on any temporary tensor (32 MB of float32)
VMAP_CHUNK = 128  # samples per vmap call
PASS_CHUNK = 2048  # samples per forward/backward pass of the generic path

Vector = list[torch.Tensor]  # a vector in parameter space, one tensor per parameter block


class NoiseError(ValueError):
    """A setting that cannot be measured; `key`/`params` name the message in core/locales/*/noise.json."""

    def __init__(self, key: str, **params):
        self.key, self.params = f"noise.{key}", params
        super().__init__(t(self.key, "en", **params))


# vectors in parameter space -------------------------------------------------------------------

def vdot(u: Vector, v: Vector) -> torch.Tensor:
    """u·v in float64."""
    return sum((a.double() * b.double()).sum() for a, b in zip(u, v))


def scaled(u: Vector, c: float) -> Vector:
    return [a * c for a in u]


def orthonormal(u: Vector, unit: Vector) -> Vector:
    """u with its component along the unit vector `unit` removed, then scaled to length 1."""
    along = vdot(u, unit).item()
    u = [a - along * b for a, b in zip(u, unit)]
    return scaled(u, 1 / max(math.sqrt(vdot(u, u).item()), 1e-30))


# per-sample gradients, path 1: networks of Linear (and BatchNorm1d) layers --------------------

def _row_sq_norms(m: torch.Tensor) -> torch.Tensor:
    """‖row‖² of every row, in one pass (no squared copy of a (N, 785) matrix)."""
    return torch.linalg.vector_norm(m, dim=1).square()


def is_linear_net(model: nn.Module) -> bool:
    """True when every parameter belongs to a Linear or BatchNorm1d layer (the MLP)."""
    owners = (m for m in model.modules() if any(True for _ in m.parameters(recurse=False)))
    return all(isinstance(m, (nn.Linear, nn.BatchNorm1d)) for m in owners)


class LinearGrads:
    """Per-sample gradients of a Linear/BatchNorm1d network as factor pairs, g_i = ⊕_blocks u_i v_iᵀ.

    A Linear layer y = W a + b, with signal δ_i = ∂ℓ_i/∂y_i, has ∂ℓ_i/∂W = δ_i a_iᵀ (u = δ, v = a)
    and ∂ℓ_i/∂b = δ_i (u = δ, v = 1). A BatchNorm1d layer in eval mode, z = γ x̂ + β, has
    ∂ℓ_i/∂γ = δ_i ⊙ x̂_i and ∂ℓ_i/∂β = δ_i (v = 1 for both). Vectors are lists of (len u, len v) blocks.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        layers = [m for m in model.modules() if isinstance(m, nn.Linear)
                  or (isinstance(m, nn.BatchNorm1d) and m.affine)]
        seen = []  # (layer, its input, its output), in forward order

        def keep(layer, inputs, output):
            seen.append((layer, inputs[0].detach(), output))

        handles = [m.register_forward_hook(keep) for m in layers]
        try:
            loss = F.cross_entropy(model(x), y, reduction="sum")  # a sum: ∂loss/∂y_i is sample i's own δ_i
        finally:
            for h in handles:
                h.remove()
        if len(seen) != len(layers):
            raise ValueError("every Linear/BatchNorm1d layer must run exactly once per forward")
        deltas = torch.autograd.grad(loss, [out for _, _, out in seen])  # backward stops at the outputs
        self.n, self.device, self.dtype = len(y), x.device, x.dtype
        self.factors = [pair for (layer, a, _), d in zip(seen, deltas)
                        for pair in self._factors(layer, a, d.detach())]  # (u (N, p), v (N, q)) per block

    @staticmethod
    def _factors(layer: nn.Module, a: torch.Tensor, d: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        one = torch.ones_like(a[:, :1])  # (N, 1)
        if isinstance(layer, nn.Linear):
            return [(d, a), (d, one)]  # weight: (N, out) ⊗ (N, in); bias: (N, out) ⊗ 1
        x_hat = (a - layer.running_mean) / torch.sqrt(layer.running_var + layer.eps)  # (N, C)
        return [(d * x_hat, one), (d, one)]  # γ, β

    def sq_norms(self) -> torch.Tensor:
        """‖g_i‖² for every sample, (N,): Σ_layers ‖u_i‖²‖v_i‖²."""
        return sum(_row_sq_norms(u) * _row_sq_norms(v) for u, v in self.factors)

    def weighted_sum(self, c: torch.Tensor) -> Vector:
        """Σ_i c_i g_i for weights c (N,): per layer uᵀ diag(c) v."""
        return [(u * c[:, None]).T @ v for u, v in self.factors]

    def dot(self, w: Vector) -> torch.Tensor:
        """g_i·w for every sample, (N,): per layer u_iᵀ W v_i."""
        return sum(((v @ block.T) * u).sum(1) for (u, v), block in zip(self.factors, w))

    def batch_sq_norms(self, order: torch.Tensor, sizes: list[int],
                       centre: Vector) -> tuple[torch.Tensor, torch.Tensor]:
        """(‖Σ_{i∈batch} g_i − B·centre‖², ‖Σ_{i∈batch} g_i‖²) for each draw's batch of each size,
        two (draws, sizes) float64 tensors.

        Draw d's batch of size B is order[d, :B]. Exact: the running batch gradient block Σ_i u_i v_iᵀ
        grows by one batched matmul per segment between consecutive sizes, and is centred before
        squaring, so there is no cancellation however large B is — nor when a batch of a few
        well-learnt samples has almost no gradient (‖g_B‖² from the deviation and g_B·G would then
        subtract nearly equal numbers).
        """
        devs = torch.zeros(len(order), len(sizes), dtype=torch.float64, device=order.device)
        sums = torch.zeros_like(devs)
        segments = list(zip([0] + sizes[:-1], sizes))
        longest = max(hi - lo for lo, hi in segments)
        for (u, v), c in zip(self.factors, centre):
            rows = max(1, CHUNK_FLOATS // (2 * c.numel() + longest * (u.shape[1] + v.shape[1])))  # draws per pass
            for start in range(0, len(order), rows):
                part = order[start:start + rows]  # (d, B_max)
                block = torch.zeros(len(part), *c.shape, dtype=c.dtype, device=c.device)  # Σ u_i v_iᵀ
                for k, (lo, hi) in enumerate(segments):
                    seg = part[:, lo:hi]  # (d, hi − lo): the samples that grow the batch from lo to hi
                    block.baddbmm_(u[seg].transpose(1, 2), v[seg])  # in place
                    sums[start:start + rows, k] += torch.linalg.vector_norm(block, dim=(1, 2)).double().square()
                    centred = torch.linalg.vector_norm(block - hi * c, dim=(1, 2))
                    devs[start:start + rows, k] += centred.double().square()
        return devs, sums


# per-sample gradients, path 2: any model, with torch.func --------------------------------------

class VmapGrads:
    """Per-sample gradients of any model from `vmap(grad(loss of one sample))`, in chunks of VMAP_CHUNK.

    Only sums and norms leave a chunk, so memory stays bounded however many samples there are.
    Projections g_i·w use forward-mode `jvp` and weighted sums one ordinary backward, no vmap.
    Vectors are lists of tensors shaped like `model.parameters()`.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        self.model, self.x, self.y = model, x, y
        self.n, self.device, self.dtype = len(y), x.device, x.dtype
        self.params = {k: p.detach() for k, p in model.named_parameters()}
        self.buffers = {k: b.detach() for k, b in model.named_buffers()}
        self._sq_norms = torch.full((self.n,), math.nan, dtype=x.dtype, device=x.device)  # filled by every sweep

    def _losses(self, params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(self.model, (params, self.buffers), (x,)), y, reduction="none")

    def _per_sample(self, idx: torch.Tensor) -> torch.Tensor:
        """The gradients of samples `idx`, flattened, (len(idx), P)."""
        one = lambda p, xi, yi: self._losses(p, xi[None], yi[None])[0]  # noqa: E731
        grads = vmap(grad(one), in_dims=(None, 0, 0))(self.params, self.x[idx], self.y[idx])
        return torch.cat([g.flatten(1) for g in grads.values()], 1)

    def _vmap_chunks(self, samples: torch.Tensor):
        for idx in samples.split(VMAP_CHUNK) if len(samples) else ():
            g = self._per_sample(idx)
            self._sq_norms[idx] = g.pow(2).sum(1)
            yield idx, g

    def sq_norms(self) -> torch.Tensor:
        """‖g_i‖², computing only those no earlier sweep (batch_sq_norms) has seen."""
        for _ in self._vmap_chunks(self._sq_norms.isnan().nonzero().flatten()):
            pass
        return self._sq_norms.clone()

    def weighted_sum(self, c: torch.Tensor) -> Vector:
        total = [torch.zeros_like(p) for p in self.params.values()]
        for start in range(0, self.n, PASS_CHUNK):
            part = slice(start, start + PASS_CHUNK)
            loss = (c[part] * F.cross_entropy(self.model(self.x[part]), self.y[part], reduction="none")).sum()
            for acc, g in zip(total, torch.autograd.grad(loss, list(self.model.parameters()))):
                acc += g
        return total

    def dot(self, w: Vector) -> torch.Tensor:
        tangent = dict(zip(self.params, w))
        parts = (slice(s, s + PASS_CHUNK) for s in range(0, self.n, PASS_CHUNK))
        return torch.cat([jvp(lambda p: self._losses(p, self.x[part], self.y[part]), (self.params,), (tangent,))[1]
                          for part in parts])

    def batch_sq_norms(self, order: torch.Tensor, sizes: list[int],
                       centre: Vector) -> tuple[torch.Tensor, torch.Tensor]:
        """As LinearGrads.batch_sq_norms, from vmap sweeps over the samples the batches hold.

        Each (draw, position) falls in one segment between consecutive sizes; the segment sums
        T (draws, sizes, P) are accumulated chunk by chunk as a sparse 0/1 membership matrix
        times the chunk's per-sample gradients, and the batch sums are their running sums over
        segments. Draws are grouped so that T stays within 2·CHUNK_FLOATS.
        """
        flat_centre = torch.cat([c.flatten() for c in centre])  # (P,)
        group = max(1, 2 * CHUNK_FLOATS // (len(sizes) * flat_centre.numel()))
        devs, sums = zip(*(self._group_sq_norms(part, sizes, flat_centre) for part in order.split(group)))
        return torch.cat(devs), torch.cat(sums)

    def _group_sq_norms(self, order: torch.Tensor, sizes: list[int],
                        centre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        draws, device = len(order), order.device
        bounds = torch.tensor(sizes, device=device)
        segment = torch.bucketize(torch.arange(sizes[-1], device=device), bounds, right=True)  # (B_max,)
        rows = (torch.arange(draws, device=device)[:, None] * len(sizes) + segment).flatten()  # row of T per pair
        members, by_sample = order.flatten().sort()
        rows = rows[by_sample]
        sums = torch.zeros(draws * len(sizes), len(centre), dtype=centre.dtype, device=device)  # T
        for idx, g in self._vmap_chunks(members.unique()):  # idx sorted: its pairs are one run of `members`
            lo = int(torch.searchsorted(members, idx[:1]))
            hi = int(torch.searchsorted(members, idx[-1:], right=True))
            which = torch.stack([rows[lo:hi], torch.searchsorted(idx, members[lo:hi])])  # (row of T, place in chunk)
            ones = torch.ones(hi - lo, dtype=g.dtype, device=device)
            membership = torch.sparse_coo_tensor(which, ones, (len(sums), len(idx)), check_invariants=False)
            sums += torch.sparse.mm(membership, g)
        batch_sums = sums.view(draws, len(sizes), -1).cumsum(1)  # (draws, sizes, P)
        return ((batch_sums - bounds[:, None] * centre).square().sum(2).double(),
                batch_sums.square().sum(2).double())


def per_sample_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """The fast exact path for the MLP, the generic vmap path for anything else (the CNN)."""
    return (LinearGrads if is_linear_net(model) else VmapGrads)(model, x, y)


@contextmanager
def evaluation_mode(model: nn.Module):
    """Eval mode (no dropout, BatchNorm on running statistics) and gradients on; the mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            yield
    finally:
        model.train(was_training)


@contextmanager
def intra_op_threads(n: int | None):
    """This thread's torch intra-op thread count set to `n` for a while (None leaves it as it is).

    In the app the cores are shared with training jobs, and then the measurement's hundreds of
    mid-sized ops wait at every OpenMP barrier for a busy core: with 2 threads on 2 busy cores
    it ran ~10× slower (4.7 s) than with 1 thread (0.5 s). The setting is per thread, like a job's.
    """
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# the measurements -----------------------------------------------------------------------------

@dataclass(frozen=True)
class NoiseScale:
    trace_sigma: float  # tr(Σ) = mean ‖g_i‖² − ‖G‖² (1/N convention)
    grad_norm_sq: float  # ‖G‖²
    b_simple: float  # tr(Σ)/‖G‖²
    n_samples: int

    def as_dict(self) -> dict:
        return {"trace_sigma": self.trace_sigma, "grad_norm_sq": self.grad_norm_sq, "b_simple": self.b_simple}


def scale_from(grads, full: Vector) -> NoiseScale:
    """tr(Σ), ‖G‖² and B_simple from the per-sample gradients and G."""
    grad_norm_sq = vdot(full, full).item()
    trace_sigma = grads.sq_norms().double().mean().item() - grad_norm_sq
    b_simple = trace_sigma / grad_norm_sq if grad_norm_sq > 0 else math.inf
    return NoiseScale(trace_sigma, grad_norm_sq, b_simple, grads.n)


def full_gradient(grads) -> Vector:
    """G = (1/N) Σ g_i."""
    return grads.weighted_sum(torch.full((grads.n,), 1 / grads.n, dtype=grads.dtype, device=grads.device))


def noise_scale(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> NoiseScale:
    """tr(Σ), ‖G‖² and B_simple on samples (x, y), in eval mode; the model's weights are not touched."""
    _check_samples(len(y))
    with evaluation_mode(model):
        grads = per_sample_gradients(model, x, y)
        return scale_from(grads, full_gradient(grads))


def make_epoch_hook(train_split, n_samples: int = 2000):
    """A Trainer `epoch_hook(model, epoch) -> {"trace_sigma", "grad_norm_sq", "b_simple"}`.

    Measured on the first `n_samples` training samples, the same ones every epoch, so the curve
    shows the model changing and not the sample; they follow the model to its device.
    """
    x, y = train_split.x[:n_samples], train_split.y[:n_samples]

    def hook(model: nn.Module, epoch: int) -> dict:
        device = next(model.parameters()).device
        return noise_scale(model, x.to(device), y.to(device)).as_dict()

    return hook


@dataclass(frozen=True)
class BatchSizeNoise:
    """`draws` minibatches of one size, each drawn without replacement."""

    batch_size: int
    measured: float  # mean over the draws of ‖g_B − G‖²
    predicted: float  # tr(Σ)/B · (N − B)/(N − 1)
    cosine: float  # mean over the draws of cos(g_B, G)
    cosines: torch.Tensor  # (draws,) float64
    along: torch.Tensor  # (draws,) g_B·Ĝ, the component along G
    across: torch.Tensor  # (draws,) g_B·u, along a fixed unit vector u ⊥ G

    def as_dict(self) -> dict:
        return {"batch_size": self.batch_size, "measured": self.measured, "predicted": self.predicted,
                "cosine": self.cosine}


@dataclass(frozen=True)
class NoiseReport:
    scale: NoiseScale
    sizes: list[BatchSizeNoise]
    seconds: float


def predicted_deviation(trace_sigma: float, n: int, batch_size: int) -> float:
    """E‖g_B − G‖² for B samples drawn without replacement from N: tr(Σ)/B · (N − B)/(N − 1)."""
    return trace_sigma / batch_size * (n - batch_size) / (n - 1)


def draw_orders(n: int, longest: int, draws: int, generator: torch.Generator) -> torch.Tensor:
    """(draws, longest): the first `longest` samples of `draws` independent random permutations of N.

    Draw d's minibatch of size B is its first B samples: for every B a uniform sample without
    replacement, and a larger batch of the same draw holds the smaller one plus fresh samples.
    """
    return torch.stack([torch.randperm(n, generator=generator)[:longest] for _ in range(draws)])


def noise_direction(grads, unit_g: Vector, generator: torch.Generator, steps: int = POWER_STEPS) -> Vector:
    """A unit vector u ⊥ G along which minibatch gradients scatter (nearly) the most.

    A random direction in 100,000 dimensions would catch almost none of the scatter, so the
    picture's second axis is the top eigenvector of Σ with G projected out, by power iteration:
    Σu = (1/N) Σ_i g_i (g_i·u − mean_j g_j·u). Seeded, so the same model gives the same axis.
    """
    u = orthonormal([torch.randn(b.shape, generator=generator).to(b) for b in unit_g], unit_g)
    for _ in range(steps):
        p = grads.dot(u)  # (N,) g_i·u
        u = orthonormal(grads.weighted_sum((p - p.mean()) / len(p)), unit_g)
    return u


def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_sizes=DEFAULT_BATCH_SIZES,
            draws: int = DEFAULT_DRAWS, seed: int = 0) -> NoiseReport:
    """Everything the noise page shows, in eval mode; the model's weights are not touched."""
    t0 = time.perf_counter()
    n = len(y)
    batch_sizes = check_settings(n, batch_sizes, draws)
    generator = torch.Generator().manual_seed(seed)
    with evaluation_mode(model):
        grads = per_sample_gradients(model, x, y)
        full = full_gradient(grads)
        g_norm = math.sqrt(vdot(full, full).item())
        unit_g = scaled(full, 1 / max(g_norm, 1e-30))
        u = noise_direction(grads, unit_g, generator)
        along_i, across_i = grads.dot(unit_g).double(), grads.dot(u).double()  # (N,) each
        order = draw_orders(n, batch_sizes[-1], draws, generator).to(y.device)
        sq_devs, sq_sums = (t.cpu() for t in grads.batch_sq_norms(order, batch_sizes, full))  # (draws, sizes)
        scale = scale_from(grads, full)  # after the batches: the vmap path reuses that sweep's norms
    sizes = []
    for k, b in enumerate(batch_sizes):
        dev = sq_devs[:, k] / b ** 2  # ‖g_B − G‖²
        idx = order[:, :b]
        along, across = along_i[idx].mean(1).cpu(), across_i[idx].mean(1).cpu()
        norm = sq_sums[:, k].sqrt() / b  # ‖g_B‖
        cosines = (along / norm.clamp_min(1e-150)).clamp(-1, 1)  # g_B·G/(‖g_B‖‖G‖); clamp: float rounding
        sizes.append(BatchSizeNoise(b, dev.mean().item(), predicted_deviation(scale.trace_sigma, n, b),
                                    cosines.mean().item(), cosines, along, across))
    return NoiseReport(scale, sizes, time.perf_counter() - t0)


def _check_samples(n: int) -> None:
    if n < 2:
        raise NoiseError("error_samples", value=n)


def check_settings(n: int, batch_sizes, draws: int) -> list[int]:
    """The batch sizes, sorted and distinct; refuses settings that cannot be measured."""
    _check_samples(n)
    if not (isinstance(draws, int) and draws >= 1):
        raise NoiseError("error_draws", value=draws)
    sizes = sorted(set(batch_sizes))
    if not sizes or not all(isinstance(b, int) and 1 <= b < n for b in sizes):
        raise NoiseError("error_batch_sizes", value=", ".join(map(str, batch_sizes)), n=n)
    return sizes


# command line ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m core.noise",
                description="Measure how minibatch gradients scatter around the full gradient.")
    p.add_argument("--checkpoint", default=None, help="a saved model (default: a fresh, untrained one)")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp", help="the fresh model's architecture")
    p.add_argument("--samples", type=int, default=0, help="use the first N training samples (0 = all)")
    p.add_argument("--batch-sizes", default=",".join(map(str, DEFAULT_BATCH_SIZES)), help="e.g. 1,2,4,8")
    p.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help="minibatches drawn per batch size")
    p.add_argument("--seed", type=int, default=0, help="fixes the fresh weights and the draws")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--offline", action="store_true", help="never try to download MNIST")
    p.add_argument("--json", action="store_true",
                   help='one JSON line per batch size, then {"trace_sigma", "grad_norm_sq", "b_simple"}')
    return p


def _parse_sizes(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise NoiseError("error_batch_sizes", value=text, n="N") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        splits = D.load_splits(args.data_dir, download=False if args.offline else None)
    except D.DataError as exc:
        parser.exit(1, f"error: {exc}\n")
    try:
        if args.checkpoint:
            model, _ = load_checkpoint(args.checkpoint)
        else:
            model = init_model(TrainConfig(model=args.model, seed=args.seed), torch.device("cpu"))
        if args.samples < 0 or args.samples > len(splits.train):
            raise NoiseError("error_samples", value=args.samples)
        data = D.to_tensors(splits.train, limit=args.samples or None)
        report = measure(model, data.x, data.y, _parse_sizes(args.batch_sizes), args.draws, args.seed)
    except (NoiseError, CheckpointError, FileNotFoundError) as exc:
        parser.error(str(exc))
    for row in report.sizes:
        if args.json:
            print(json.dumps(row.as_dict()))
        else:
            print(f"B={row.batch_size:5d}: E|g_B - G|^2 measured {row.measured:.4g}, predicted {row.predicted:.4g}, "
                  f"cos(g_B, G) {row.cosine:.3f}")
    s = report.scale
    if args.json:
        print(json.dumps(s.as_dict()))
    else:
        print(f"N={s.n_samples}: tr(Sigma) {s.trace_sigma:.4g}, |G|^2 {s.grad_norm_sq:.4g}, "
              f"B_simple {s.b_simple:.1f} ({report.seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
