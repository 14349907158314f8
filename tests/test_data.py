"""① data on disk → ② minibatches → ③ preprocessing, checked against the textbook path."""
import dataclasses
import gzip

import numpy as np
import pytest
import torch

from core import data as D


def test_bundled_sample_is_real_mnist_split_as_taught(splits):
    assert splits.source == "bundled"
    assert splits.sizes() == {"train": 8000, "val": 1000, "test": 1000}
    assert splits.train.images.shape == (8000, 28, 28) and splits.train.images.dtype == torch.uint8
    assert splits.train.labels.dtype == torch.int64
    # every digit appears in every split, and no image is in two splits
    for subset in (splits.train, splits.val, splits.test):
        assert min(subset.class_counts()) > 50
    all_idx = torch.cat([splits.train.indices, splits.val.indices, splits.test.indices])
    assert len(all_idx.unique()) == 10000
    assert "8,000 train / 1,000 validation / 1,000 test" in splits.describe()


def test_split_is_identical_on_every_load(splits):
    again = D.load_splits(download=False)
    assert torch.equal(again.train.indices, splits.train.indices)
    assert torch.equal(again.val.indices, splits.val.indices)


def test_data_dir_in_torchvision_layout_comes_first(tmp_path, splits):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = splits.files.train_images[:600], splits.files.train_labels[:600]
    for name, array in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                        ("t10k-images-idx3-ubyte", images[:100]), ("t10k-labels-idx1-ubyte", labels[:100])):
        D.write_idx(raw / name, array)
    with gzip.open(raw / "train-images-idx3-ubyte.gz", "wb") as f:  # gzipped files read the same
        f.write((raw / "train-images-idx3-ubyte").read_bytes())
    (raw / "train-images-idx3-ubyte").unlink()
    found = D.load_splits(tmp_path, download=False)
    assert found.source == "data_dir"
    # a separate test file: the pool splits only into train/validation (90/10)
    assert found.sizes() == {"train": 540, "val": 60, "test": 100}
    assert np.array_equal(found.files.train_images, images)


def _data_dir(root, images, labels):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                        ("t10k-images-idx3-ubyte", images[:50]), ("t10k-labels-idx1-ubyte", labels[:50])):
        D.write_idx(raw / name, array)
    return D.load_splits(root, download=False)


def test_two_data_dirs_of_one_size_never_share_cached_files(tmp_path, splits):
    """MNIST and Fashion-MNIST have the same sizes: the textbook path's copy and the default
    model must come from the data in force, not from whichever was cached first."""
    from core.pretrained import checkpoint_path

    images, labels = splits.files.train_images[:300], splits.files.train_labels[:300]
    first = _data_dir(tmp_path / "a", images, labels)
    second = _data_dir(tmp_path / "b", 255 - images, labels)  # same size, other pictures
    assert first.sizes() == second.sizes()
    for found in (first, second):
        x, _ = D.textbook_dataset(found, found.train)[0]
        assert torch.equal(x, D.to_tensors(found.train).x[0])
    assert D.torchvision_root(first) != D.torchvision_root(second)
    assert checkpoint_path(first) != checkpoint_path(second)


def test_many_sessions_asking_for_the_textbook_path_at_once_all_read_whole_files(tmp_path, monkeypatch, splits):
    """A class choosing "DataLoader" together on a fresh server: no session reads a copy that
    another one is still writing."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("TLL_CACHE_DIR", str(tmp_path / "cache"))
    expected = D.to_tensors(splits.val).x[-1]

    def last_val_image(_):
        dataset = D.textbook_dataset(splits, splits.val)
        return len(dataset), dataset[len(dataset) - 1][0]

    with ThreadPoolExecutor(6) as pool:
        for n, x in pool.map(last_val_image, range(6)):
            assert n == len(splits.val) and torch.equal(x, expected)


@pytest.mark.parametrize("content", [b"", b"not gzip at all", None])  # None: a cut-off download
def test_a_broken_file_gets_its_name_and_what_is_wrong(tmp_path, content):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    good = gzip.compress(bytes(4) + bytes(range(256)) * 100)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(good[:len(good) // 2] if content is None else content)
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(good)
    with pytest.raises(D.DataError, match="train-images-idx3-ubyte.gz"):
        D.load_splits(tmp_path, download=False)
    # the app's way: the lesson goes on with the bundled sample and says why
    splits, problem = D.load_splits_or_bundled(tmp_path, download=False)
    assert splits.source == "bundled" and "train-images-idx3-ubyte.gz" in str(problem)


def test_a_cache_folder_that_cannot_be_written_does_not_stop_the_app(tmp_path, monkeypatch, splits):
    """A mistyped TLL_CACHE_DIR or a read-only home: the default model is still trained and
    served (from a temporary folder), and the DataLoader path still reads its copy."""
    from core.pretrained import default_model

    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("TLL_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    assert D.cache_dir().is_dir()
    small = D.make_splits(dataclasses.replace(splits.files, train_images=splits.files.train_images[:500],
                                              train_labels=splits.files.train_labels[:500]))
    assert default_model(small).val_acc > 0.3
    assert len(D.textbook_dataset(small, small.val)) == len(small.val)


@pytest.mark.parametrize("images,labels,words", [
    (np.zeros((5, 28, 28), np.uint8), np.full(5, 25, np.uint8), "digits 0-9, found 25"),  # EMNIST letters
    (np.zeros((5, 32, 32), np.uint8), np.zeros(5, np.uint8), "28×28"),
    (np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8), "5 images but 4 labels"),
])
def test_files_that_are_not_mnist_digits_are_refused_in_words(tmp_path, images, labels, words):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    D.write_idx(raw / "train-images-idx3-ubyte", images)
    D.write_idx(raw / "train-labels-idx1-ubyte", labels)
    with pytest.raises(D.DataError, match=words):
        D.load_files(tmp_path, download=False)


def test_empty_data_dir_falls_back_to_bundled_sample_offline(tmp_path):
    assert D.load_files(tmp_path, download=False).source == "bundled"


def test_normalize_is_exactly_totensor_then_normalize(splits):
    from torchvision import transforms

    textbook = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    images = splits.train.images[:16]
    ours = D.normalize(images)
    theirs = torch.stack([textbook(img.numpy()) for img in images])
    assert ours.shape == (16, 1, 28, 28)
    assert torch.equal(ours, theirs)
    assert ours.min() >= -1 and ours.max() <= 1 and ours.min() == -1 and ours.max() == 1
    assert torch.allclose(D.denormalize(ours), images.unsqueeze(1) / 255)


def test_textbook_dataset_gives_the_same_tensors(splits):
    dataset = D.textbook_dataset(splits, splits.val)
    x, y = dataset[3]
    fast = D.to_tensors(splits.val)
    assert torch.equal(x, fast.x[3]) and y == fast.y[3].item()


@pytest.mark.parametrize("n,b,drop_last,expected", [
    (10000, 100, False, (100, 100)), (10, 3, False, (4, 1)), (10, 3, True, (3, 3)),
    (10, 10, False, (1, 10)), (2, 5, True, (0, 0)),
])
def test_batch_plan_counts_like_dataloader(n, b, drop_last, expected):
    assert D.batch_plan(n, b, drop_last) == expected
    loader = torch.utils.data.DataLoader(range(n), batch_size=b, drop_last=drop_last)
    assert len(loader) == expected[0]


def test_each_sample_once_per_epoch_in_a_fresh_order():
    g = torch.Generator().manual_seed(0)
    first = D.epoch_indices(10, 3, g)
    second = D.epoch_indices(10, 3, g)
    assert [len(b) for b in first] == [3, 3, 3, 1]
    assert sorted(torch.cat(first).tolist()) == list(range(10))
    assert sorted(torch.cat(second).tolist()) == list(range(10))
    assert not torch.equal(torch.cat(first), torch.cat(second))
    dropped = D.epoch_indices(10, 3, torch.Generator().manual_seed(0), drop_last=True)
    assert [len(b) for b in dropped] == [3, 3, 3]


def test_batch_order_is_fixed_by_the_seed(splits):
    data = D.to_tensors(splits.val)
    a = [data.y[idx] for idx in D.device_epoch(data, 64, torch.Generator().manual_seed(5))]
    b = [data.y[idx] for idx in D.device_epoch(data, 64, torch.Generator().manual_seed(5))]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert sum(len(y) for y in a) == len(data)


def test_augment_keeps_shape_and_range_and_moves_pixels(splits):
    x = D.normalize(splits.val.images[:32])
    out = D.augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    assert (out - x).abs().mean() > 0.01
    again = D.augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_normalized_split_is_shared_not_copied_per_run(splits):
    whole, first = D.to_tensors(splits.train), D.to_tensors(splits.train, limit=100)
    assert first.x.data_ptr() == whole.x.data_ptr() and len(first) == 100 and len(whole) == 8000
    assert torch.equal(first.x, D.normalize(splits.train.images[:100]))
