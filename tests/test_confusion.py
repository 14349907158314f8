"""Where a model goes wrong: predictions, the confusion matrix, the mistakes, and the CLI."""
import io

import pytest
import torch

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
    both = combine_hooks(hook, None, lambda m, e: {"epoch_seen": e})
    assert both(model, 3) == {"watched": first["watched"], "epoch_seen": 3}

