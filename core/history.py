"""What a page needs to compare runs: what differed, where overfitting begins, metrics as rows."""
from dataclasses import asdict

from core.i18n import DEFAULT_LANGUAGE, t
from core.models import hidden_text
from core.train import OPTIMIZERS, EpochEvent, TrainConfig, batch_text

# settings a learner changes, in the order a legend names them (short names: lab.legend_<setting>)
SETTINGS = ("model", "hidden", "activation", "optimizer", "learning_rate", "batch_size", "dropout", "batchnorm",
            "epochs", "seed", "train_subset", "augment", "order", "weight_decay", "patience", "loader", "device",
            "drop_last", "momentum", "zero_grad")


def _show(setting: str, value, lang: str) -> str:
    """A setting's value as the Lab's controls show it: "Adam", "MLP", "on", "0.001", "128,64"."""
    if setting == "optimizer":
        return OPTIMIZERS[value]
    if setting == "model":
        return value.upper()
    if setting == "hidden":
        return hidden_text(value)
    if setting == "activation":
        return t(f"lab.activation_{value}", lang)
    if setting == "order":
        return t(f"lab.order_{value}", lang)
    if setting == "batch_size":
        return batch_text(value, lang)
    if setting == "train_subset" and not value:
        return t("lab.subset_all", lang)
    if isinstance(value, bool):
        return t("lab.legend_on" if value else "lab.legend_off", lang)
    return f"{value:g}" if isinstance(value, float) else str(value)


def differing_settings(configs: list[TrainConfig]) -> list[str]:
    """The settings whose values are not the same in all `configs`."""
    dicts = [asdict(c) for c in configs]
    return [k for k in SETTINGS if len({repr(d[k]) for d in dicts}) > 1]


LABEL_SEPARATOR = " · "  # between a run's name and each setting in a legend entry


def legend_labels(names: list[str], configs: list[TrainConfig], lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """One legend entry per run naming only what differed, in the learner's language:
    "Run 2 · lr 0.1" vs "Run 3 · lr 0.001"; "学習 2 · 学習率 0.1"."""
    keys = differing_settings(configs)
    return [LABEL_SEPARATOR.join([name, *(f"{t(f'lab.legend_{k}', lang)} {_show(k, getattr(config, k), lang)}" for k in keys)])
            for name, config in zip(names, configs)]


def overfitting_epochs(epochs: list[EpochEvent]) -> list[int]:
    """Epochs in which validation loss rose while training loss fell: the model starts to overfit."""
    return [b.epoch for a, b in zip(epochs, epochs[1:])
            if b.val_loss > a.val_loss and b.train_loss < a.train_loss]


def epoch_rows(run_name: str, config: TrainConfig, status: str, epochs: list[EpochEvent]) -> list[dict]:
    """One flat row per epoch with the run's settings: a CSV or table a spreadsheet can read."""
    settings = {k: getattr(config, k) for k in SETTINGS} | {"hidden": hidden_text(config.hidden)}
    return [{"run": run_name, **settings, "status": status, "epoch": e.epoch, "step": e.step,
             "train_loss": e.train_loss, "train_acc": e.train_acc, "val_loss": e.val_loss,
             "val_acc": e.val_acc, "train_seconds": e.train_seconds, "seconds": e.seconds,
             "samples_per_s": e.samples_per_s, **{k: v for k, v in e.extra.items() if not isinstance(v, list)}}
            for e in epochs]  # a list (the watched digits' answers) is no spreadsheet cell

