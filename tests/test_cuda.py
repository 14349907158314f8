"""On a GPU (the lent device; skipped where there is none): the engine trains there as on the CPU."""
import pytest
import torch

from core import data as D
from core.train import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_gpu_run_learns_with_a_partial_last_batch(splits):
    result = train(TrainConfig(device="cuda", epochs=2, batch_size=100, train_subset=4050), splits)
    assert result.status == "finished" and len(result.steps) == 2 * 41  # 40 full batches + 1 of 50
    assert result.epochs[-1].val_acc > 0.8 and result.steps[-1] < result.steps[0]
    assert next(result.model.parameters()).is_cuda


def test_divergence_dropout_batchnorm_and_cnn_on_gpu(splits):
    boom = train(TrainConfig(device="cuda", optimizer="sgd", learning_rate=1e4, batch_size=8, epochs=1,
                             train_subset=400), splits)
    assert boom.status == "diverged" and boom.diverged_step <= 50
    both = train(TrainConfig(device="cuda", dropout=0.3, batchnorm=True, epochs=2, train_subset=2000), splits)
    assert both.status == "finished" and both.epochs[-1].val_acc > 0.7, both.epochs[-1]
    cnn = train(TrainConfig(device="cuda", model="cnn", epochs=2, train_subset=2000), splits)
    assert cnn.epochs[-1].val_acc > 0.7, cnn.epochs[-1]
    x = D.to_tensors(splits.val, "cuda", limit=8).x
    assert both.model(x).shape == (8, 10)
