"""How fast the gradient-noise measurements are: the MLP's fast exact path against chunked vmap.

    python benchmarks/noise_speed.py [--data-dir DIR] [--repeats 3] [--threads 2] [--cnn]

1. Exact tr(Σ) = mean ‖g_i‖² − ‖G‖² over 10,000 samples for the lesson's MLP (the default model):
   `LinearGrads` (activations and backprop signals, one batched pass) against `VmapGrads`
   (`torch.func.vmap(grad)` in chunks), with their largest relative difference per sample.
   The bundled sample's 8,000-digit training split is too small, so its whole file of 10,000
   digits (train + validation + test) is used; with a data directory, its first 10,000 training images.
2. The noise page's whole measurement at its defaults (`core.noise.measure`: all training
   samples, batch sizes 1…1024, 50 draws each) on the default model, and with --cnn on a fresh CNN,
   run as the page runs it: with one intra-op thread (see `core.noise.intra_op_threads`).
Prints medians over --repeats runs; timings on a shared machine are noisy.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core import noise  # noqa: E402
from core.pretrained import default_model  # noqa: E402
from core.train import TrainConfig, init_model  # noqa: E402

SAMPLES = 10_000


def timed(fn, repeats: int):
    """(median seconds, last result) over `repeats` calls."""
    seconds, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), result


def trace_sigma(path, model, x, y) -> tuple[float, torch.Tensor]:
    """tr(Σ) and the per-sample squared norms, by one path (LinearGrads or VmapGrads)."""
    with noise.evaluation_mode(model):
        grads = path(model, x, y)
        return noise.scale_from(grads, noise.full_gradient(grads)).trace_sigma, grads.sq_norms()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--cnn", action="store_true", help="also time the page's measurement for a fresh CNN")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = D.load_splits(args.data_dir, download=False)
    model = default_model(splits).model
    images = torch.from_numpy(splits.files.train_images[:SAMPLES].copy())
    labels = torch.from_numpy(splits.files.train_labels[:SAMPLES].astype("int64"))
    x, y = D.normalize(images), labels
    print(f"data: {splits.describe()}; CPU threads {torch.get_num_threads()}; {len(y):,} samples for tr(Σ)")

    fast_s, (fast_tr, fast_sq) = timed(lambda: trace_sigma(noise.LinearGrads, model, x, y), args.repeats)
    vmap_s, (vmap_tr, vmap_sq) = timed(lambda: trace_sigma(noise.VmapGrads, model, x, y), 1)
    diff = (fast_sq - vmap_sq).abs()
    worst = (diff / vmap_sq.clamp_min(1e-30)).argmax()  # float32 rounding: largest on a near-zero gradient
    print(f"tr(Σ), MLP, {len(y):,} samples: fast {fast_s:.3f} s (median of {args.repeats}), "
          f"chunked vmap {vmap_s:.3f} s (1 run): {vmap_s / fast_s:.0f}x faster")
    print(f"  tr(Σ) fast {fast_tr:.6g}, vmap {vmap_tr:.6g}; ‖g_i‖² differ by at most {diff.max() / vmap_sq.mean():.1e} "
          f"of their mean; largest relative difference {diff[worst] / vmap_sq[worst]:.1e}, on a sample with "
          f"‖g_i‖² = {vmap_sq[worst]:.1e} (float32 rounding; in float64 both equal a per-sample loop)")

    train = D.to_tensors(splits.train)

    def page_measurement(m):  # as pages/noise.py runs it: one intra-op thread on the CPU
        with noise.intra_op_threads(1):
            return noise.measure(m, train.x, train.y)

    page_s, report = timed(lambda: page_measurement(model), args.repeats)
    s = report.scale
    print(f"page measurement (1 thread, as the page), default MLP, {len(train):,} samples, batch sizes 1…"
          f"{noise.DEFAULT_BATCH_SIZES[-1]}, {noise.DEFAULT_DRAWS} draws: {page_s:.3f} s (median of {args.repeats}); "
          f"tr(Σ) {s.trace_sigma:.4g}, ‖G‖² {s.grad_norm_sq:.4g}, B_simple {s.b_simple:.1f}")
    if args.cnn:
        cnn = init_model(TrainConfig(model="cnn"), torch.device("cpu"))
        cnn_s, _ = timed(lambda: page_measurement(cnn), 1)
        print(f"page measurement, fresh CNN, same settings: {cnn_s:.3f} s (1 run)")


if __name__ == "__main__":
    main()
