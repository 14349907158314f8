"""Where a model goes wrong: predictions, the confusion matrix, the mistakes, and the CLI."""
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core import confusion as C
from core import data as D
from core.checkpoint import save_checkpoint
from core.train import TrainConfig, evaluate, split_batches, train


def preds(labels, predicted, confidence) -> C.Predictions:
    return C.Predictions(torch.tensor(labels), torch.tensor(predicted), torch.tensor(confidence))


def test_the_matrix_counts_each_true_digit_in_its_row_and_each_answer_in_its_column():
    p = preds([4, 4, 4, 9, 1], [4, 9, 9, 4, 1], [0.9, 0.8, 0.6, 0.7, 0.99])
    m = C.confusion_matrix(p)
    assert m.shape == (10, 10) and m.sum() == 5
    assert m[4, 4] == 1 and m[4, 9] == 2 and m[9, 4] == 1 and m[1, 1] == 1
    assert C.top_confusions(m) == [(4, 9, 2), (9, 4, 1)]
    acc = C.per_class_accuracy(m)
    assert acc[4] == pytest.approx(1 / 3) and acc[1] == 1 and acc[9] == 0 and torch.isnan(acc[0])
    assert p.accuracy == pytest.approx(2 / 5)


def test_mistakes_come_surest_first_and_can_be_narrowed_to_one_pair():
    p = preds([4, 4, 4, 9, 1, 7], [4, 9, 9, 4, 1, 1], [0.9, 0.6, 0.8, 0.7, 0.99, 0.95])
    assert C.mistakes(p).tolist() == [5, 2, 3, 1]  # 95 %, 80 %, 70 %, 60 %
    assert C.mistakes(p, true_digit=4).tolist() == [2, 1]
    assert C.mistakes(p, predicted=4).tolist() == [3]
    assert C.mistakes(p, true_digit=4, predicted=1).tolist() == []


@pytest.fixture(scope="module")
def trained(splits):
    return train(TrainConfig(epochs=1, train_subset=2000, device="cpu"), splits)


def test_predictions_agree_with_the_trainers_own_evaluation(trained, splits):
    val = D.to_tensors(splits.val)
    p = C.predict_split(trained.model, val)
    assert p.accuracy == pytest.approx(evaluate(trained.model, split_batches(val))[1])
    assert torch.equal(p.labels, splits.val.labels) and ((p.confidence > 0.1) & (p.confidence <= 1)).all()
    m = C.confusion_matrix(p)
    assert m.sum() == len(splits.val) and m.diagonal().sum() == (p.predicted == p.labels).sum()


def test_a_model_in_training_mode_is_read_in_evaluation_mode_and_left_as_it_was(splits):
    from core.models import MLP

    model = MLP(dropout=0.5).train()
    val = D.to_tensors(splits.val, limit=200)
    first, second = C.predict_split(model, val), C.predict_split(model, val)
    assert torch.equal(first.predicted, second.predicted) and model.training  # no dropout noise, mode untouched


def test_the_cli_prints_the_matrix_of_a_saved_model(trained, tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, trained.model, trained.config)
    out = io.StringIO()
    assert C.main(["--checkpoint", str(path)], out=out) == 0
    text = out.getvalue()
    assert "bundled sample" in text and "val: accuracy" in text and "most frequent mistakes:" in text
    assert len([line for line in text.splitlines() if line.strip()[:1].isdigit()]) == 10  # one row per digit


def test_the_cli_refuses_a_file_that_is_no_checkpoint(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(SystemExit) as exc:
        C.main(["--checkpoint", str(bad)])
    assert exc.value.code == 2 and "not a checkpoint" in capsys.readouterr().err


def test_the_watch_hook_reads_the_same_digits_each_epoch_in_evaluation_mode(splits):
    from core.models import MLP
    from core.train import combine_hooks

    val = D.to_tensors(splits.val)
    model = MLP(dropout=0.5).train()
    hook = C.make_watch_hook(val, n=7)
    first, again = hook(model, 1), hook(model, 2)
    assert first == again and len(first["watched"]) == 7 and model.training  # no dropout noise; mode kept
    assert first["watched"] == model.eval()(val.x[:7]).argmax(1).tolist()
    assert first["predicted"] == C.predicted_counts(model(val.x).argmax(1))  # over the whole split
    assert sum(first["predicted"]) == len(val) and len(first["predicted"]) == 10
    both = combine_hooks(hook, None, lambda m, e: {"epoch_seen": e})
    assert both(model, 3) == {**first, "epoch_seen": 3}


def always(digit: int) -> nn.Module:
    """A model that answers `digit` whatever it reads: zero weights, the largest bias on `digit`."""
    linear = nn.Linear(28 * 28, 10)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(F.one_hot(torch.tensor(digit), 10).float())
    return nn.Sequential(nn.Flatten(), linear)


def test_a_model_that_always_answers_7_puts_every_validation_digit_on_7(splits):
    val = D.to_tensors(splits.val)
    counts = C.make_watch_hook(val, batch_size=300)(always(7), 1)["predicted"]  # 1,000 digits in 4 batches
    assert counts == [0] * 7 + [len(val)] + [0, 0]
    assert C.predicted_counts(torch.tensor([3, 3, 9])) == [0, 0, 0, 2, 0, 0, 0, 0, 0, 1]


def test_the_predicted_digits_survive_the_store(splits, tmp_path):
    """A run stored as it trains, read back by a new Store (a restart), keeps each epoch's counts."""
    from apptest import wait_until
    from core.jobs import JobManager
    from core.store import Store, StoreWriter, new_learner_key

    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store, key = Store(url), new_learner_key()
    config = TrainConfig(epochs=2, train_subset=256, batch_size=128, order="sorted", device="cpu")
    run_id, _, _ = store.create_run(key, config, device="cpu", data_source="bundled")
    writer = StoreWriter(store)
    job = JobManager(1).submit(config, splits, listener=writer.recorder(run_id), run_id=run_id,
                               epoch_hook=C.make_watch_hook(D.to_tensors(splits.val)))
    wait_until(lambda: job.done)
    assert writer.flush()
    trained = [e.extra["predicted"] for e in job.state.snapshot().epochs]
    again = Store(url)
    try:
        stored = [e.extra["predicted"] for e in again.run(key, run_id).epochs]
    finally:
        again.close()
        store.close()
    assert stored == trained and len(stored) == 2 and all(sum(c) == len(splits.val) for c in stored)

