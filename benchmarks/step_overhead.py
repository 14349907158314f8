"""Where one training step's time goes: the lesson's MLP, Adam, batch 64, on the chosen device.

    python benchmarks/step_overhead.py --device cuda

Prints milliseconds per step for the engine's step and for variants without the per-step host
sync (`loss.item()`) and without the running accuracy, so a change to the step can be judged.
"""
import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.device import pick_device  # noqa: E402
from core.models import MLP  # noqa: E402
from core.cuda_graph import GraphedStep  # noqa: E402
from core.train import make_optimizer, train_step  # noqa: E402


def per_step_ms(step, device, steps=300) -> float:
    for _ in range(30):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    data_x = torch.randn(10_000, 1, 28, 28, device=device)
    data_y = torch.randint(0, 10, (10_000,), device=device)
    model = MLP().to(device)
    opt = make_optimizer("adam", model.parameters(), 1e-3)
    correct = torch.zeros((), dtype=torch.long, device=device)
    gen = torch.Generator().manual_seed(0)

    def batch():
        idx = torch.randint(0, 10_000, (64,), generator=gen).to(device, non_blocking=True)
        return data_x[idx], data_y[idx]

    def engine():
        nonlocal correct
        x, y = batch()
        _, logits = train_step(model, opt, x, y)
        correct += (logits.argmax(1) == y).sum()

    def no_sync():
        x, y = batch()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def forward_only():
        x, y = batch()
        with torch.no_grad():
            F.cross_entropy(model(x), y)

    steps = [("engine step (with loss.item() and accuracy)", engine),
             ("step without host sync or accuracy", no_sync), ("forward only", forward_only)]
    if device.type == "cuda":  # what the Trainer does on a GPU: the whole step as one CUDA graph
        g_model = MLP().to(device)
        g_opt = make_optimizer("adam", g_model.parameters(), 1e-3, capturable=True)

        def eager(x, y):
            nonlocal correct
            loss, logits = train_step(g_model, g_opt, x, y)
            correct += (logits.argmax(1) == y).sum()
            return loss

        graphed = GraphedStep(g_model, g_opt, data_x, data_y, 64, correct, eager)
        gen_idx = torch.Generator().manual_seed(1)
        steps.insert(1, ("CUDA-graph step (with loss.item() and accuracy)",
                         lambda: graphed(torch.randint(0, 10_000, (64,), generator=gen_idx).to(device))))
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    for name, fn in steps:
        print(f"{name:45s} {per_step_ms(fn, device):.3f} ms")


if __name__ == "__main__":
    main()
