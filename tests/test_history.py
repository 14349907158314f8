"""Comparing runs: legends that name what differed, overfitting marks, metrics as CSV rows."""
from core.history import epoch_rows, legend_labels, overfitting_epochs
from core.train import EpochEvent, TrainConfig


def epoch(n, train_loss, val_loss):
    return EpochEvent(epoch=n, step=10 * n, train_loss=train_loss, train_acc=0.9, val_loss=val_loss, val_acc=0.9,
                      train_seconds=1.0, seconds=1.2, samples_per_s=1000.0)


def test_a_legend_names_only_what_differed_as_the_controls_show_it():
    configs = [TrainConfig(optimizer="sgd", batchnorm=True, train_subset=1000, device="cpu"),
               TrainConfig(optimizer="momentum", batchnorm=False, train_subset=0, device="cpu")]
    assert legend_labels(["Run 1", "Run 2"], configs) == [
        "Run 1 · opt SGD · BN on · samples 1000", "Run 2 · opt SGD + momentum · BN off · samples all"]
    assert legend_labels(["学習 1", "学習 2"], configs, "ja")[1] == (
        "学習 2 · オプティマイザ SGD + momentum · バッチ正規化 なし · 訓練サンプル数 すべて")
    assert legend_labels(["Run 1"], configs[:1]) == ["Run 1"]  # one run: nothing to tell apart


def test_overfitting_starts_where_validation_loss_rises_while_training_loss_falls():
    curve = [epoch(1, 0.5, 0.40), epoch(2, 0.3, 0.35), epoch(3, 0.2, 0.38), epoch(4, 0.25, 0.39), epoch(5, 0.1, 0.45)]
    assert overfitting_epochs(curve) == [3, 5]  # epoch 4: both rose, that is no overfitting


def test_epoch_rows_hold_the_settings_and_metrics_of_each_epoch():
    rows = epoch_rows("Run 1", TrainConfig(learning_rate=0.01, device="cpu"), "finished",
                      [epoch(1, 0.5, 0.4), epoch(2, 0.3, 0.35)])
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["val_loss"] == 0.35
    assert rows[0]["run"] == "Run 1" and rows[0]["learning_rate"] == 0.01 and rows[0]["status"] == "finished"


def test_epoch_rows_keep_measurements_but_not_lists():
    e = epoch(1, 0.5, 0.4)
    e.extra.update(b_simple=12.5, watched=[7, 2, 1])
    (row,) = epoch_rows("Run 1", TrainConfig(device="cpu"), "finished", [e])
    assert row["b_simple"] == 12.5 and "watched" not in row

