"""Server-side time from a new drawing to a prediction on the Draw page.

    python benchmarks/draw_latency.py --runs 50

Each run is a new 280×280 drawing (an MNIST test digit drawn on the canvas at a different size
and place), sent as the canvas sends it: a PNG data URL. Timed stages, as the page runs them:
decode (data URL → (280, 280, 4) array, what `CanvasResult.image_data` does), preprocess (ink,
crop, fit 20×20, centre of mass, normalize), predict (forward + softmax) and saliency (forward +
backward to the input). Prints the median and 90th percentile of each, in milliseconds, on the
CPU with the cached default model. The target for decode → prediction is ≤ 50 ms.
"""
import argparse
import base64
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core import digits  # noqa: E402
from core.pretrained import default_model  # noqa: E402


def png_url(rgba: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def decode(url: str) -> np.ndarray:
    """What streamlit-drawable-canvas's `CanvasResult.image_data` does with the browser's PNG."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(";base64,", 1)[1]))))


def drawings(splits: D.MnistSplits, n: int) -> list[str]:
    rng = np.random.default_rng(0)
    urls = []
    for image in splits.test.images[:n]:
        scale = int(rng.integers(5, 11))
        top, left = (int(v) for v in rng.integers(0, 280 - 28 * scale + 1, size=2))
        urls.append(png_url(digits.as_canvas(image, scale=scale, top=top, left=left)))
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    splits = D.load_splits()
    model = default_model(splits).model  # on the CPU, in evaluation mode
    urls = drawings(splits, args.runs)
    stages = {"decode": [], "preprocess": [], "predict": [], "saliency": [], "drawing → prediction": [],
              "drawing → prediction + saliency": []}
    for url in [urls[0]] + urls:  # the first run warms up and is not counted
        t0 = time.perf_counter()
        image = decode(url)
        t1 = time.perf_counter()
        x = digits.model_input(digits.to_mnist(image))
        t2 = time.perf_counter()
        digits.predict(model, x)
        t3 = time.perf_counter()
        digits.saliency(model, x)
        t4 = time.perf_counter()
        for name, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t3 - t0, t4 - t0)):
            stages[name].append(1000 * seconds)
    print(f"{args.runs} drawings, 280×280 RGBA, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"model MLP (default), data {splits.source}")
    for name, ms in stages.items():
        ms = ms[1:]
        print(f"{name:32s} median {statistics.median(ms):7.2f} ms   p90 {np.percentile(ms, 90):7.2f} ms")


if __name__ == "__main__":
    main()
