"""Shared fixtures. Tests never touch the network and keep rebuildable files in one temp cache."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TLL_OFFLINE"] = "1"
os.environ.setdefault("TLL_CACHE_DIR", str(Path(tempfile.gettempdir()) / "tll-test-cache"))
os.environ.setdefault("TLL_DATA_DIR", str(ROOT / "tests" / "no-data-dir"))  # → the bundled sample

import pytest  # noqa: E402
import torch  # noqa: E402

from core import data as D  # noqa: E402


@pytest.fixture(scope="session")
def splits() -> D.MnistSplits:
    """The bundled sample, split as the app splits it (8,000 / 1,000 / 1,000)."""
    return D.load_splits(download=False)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
