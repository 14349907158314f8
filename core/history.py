"""What a page needs to compare runs: what differed, where overfitting begins, metrics as rows."""
from dataclasses import asdict

from core.train import EpochEvent, TrainConfig

# settings a learner changes, in the order a legend names them, with short names
SETTING_NAMES = {"model": "model", "optimizer": "opt", "learning_rate": "lr", "batch_size": "batch",
                 "dropout": "dropout", "batchnorm": "BN", "epochs": "epochs", "seed": "seed",
                 "train_subset": "subset", "augment": "augment", "weight_decay": "wd", "patience": "patience",
                 "loader": "loader", "device": "device", "drop_last": "drop_last", "momentum": "momentum"}


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def differing_settings(configs: list[TrainConfig]) -> list[str]:
    """The settings whose values are not the same in all `configs`."""
    dicts = [asdict(c) for c in configs]
    return [k for k in SETTING_NAMES if len({repr(d[k]) for d in dicts}) > 1]


def legend_labels(names: list[str], configs: list[TrainConfig]) -> list[str]:
    """One legend entry per run naming only what differed: "Run 2 · lr 0.1" vs "Run 3 · lr 0.001"."""
    keys = differing_settings(configs)
    labels = []
    for name, config in zip(names, configs):
        parts = [f"{SETTING_NAMES[k]} {_show(getattr(config, k))}" for k in keys]
        labels.append(" · ".join([name, *parts]))
    return labels


def overfitting_epochs(epochs: list[EpochEvent]) -> list[int]:
    """Epochs in which validation loss rose while training loss fell: the model starts to overfit."""
    return [b.epoch for a, b in zip(epochs, epochs[1:])
            if b.val_loss > a.val_loss and b.train_loss < a.train_loss]


def epoch_rows(run_name: str, config: TrainConfig, status: str, epochs: list[EpochEvent]) -> list[dict]:
    """One flat row per epoch with the run's settings: a CSV or table a spreadsheet can read."""
    settings = {k: getattr(config, k) for k in SETTING_NAMES}
    return [{"run": run_name, **settings, "status": status, "epoch": e.epoch, "step": e.step,
             "train_loss": e.train_loss, "train_acc": e.train_acc, "val_loss": e.val_loss,
             "val_acc": e.val_acc, "train_seconds": e.train_seconds, "seconds": e.seconds,
             "samples_per_s": e.samples_per_s, **e.extra} for e in epochs]


def lesson_code(config: TrainConfig) -> str:
    """The lesson's training loop with exactly these settings filled in."""
    opt = {
        "sgd": f"optim.SGD(model.parameters(), lr={config.learning_rate:g})",
        "momentum": f"optim.SGD(model.parameters(), lr={config.learning_rate:g}, momentum={config.momentum:g})",
        "nesterov": (f"optim.SGD(model.parameters(), lr={config.learning_rate:g}, momentum={config.momentum:g}, "
                     "nesterov=True)"),
        "adam": f"optim.Adam(model.parameters(), lr={config.learning_rate:g})",
        "adamw": f"optim.AdamW(model.parameters(), lr={config.learning_rate:g})",
        "rmsprop": f"optim.RMSprop(model.parameters(), lr={config.learning_rate:g})",
        "adagrad": f"optim.Adagrad(model.parameters(), lr={config.learning_rate:g})",
    }[config.optimizer]
    if config.weight_decay:
        opt = opt[:-1] + f", weight_decay={config.weight_decay:g})"
    model = {"mlp": "MLP()  # 784 → 128 → 64 → 10, ReLU", "cnn": "CNN()  # 2 × (conv 3×3 + ReLU + max-pool), linear"}
    model_line = model[config.model]
    extras = []
    if config.dropout:
        extras.append(f"dropout p={config.dropout:g}")
    if config.batchnorm:
        extras.append("BatchNorm")
    if extras:
        model_line += " + " + ", ".join(extras)
    drop_last = ", drop_last=True" if config.drop_last else ""
    return f"""import torch
from torch import nn, optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

torch.manual_seed({config.seed})
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
train_dataset = datasets.MNIST("./data", train=True, download=True, transform=transform)
train_loader = DataLoader(train_dataset, batch_size={config.batch_size}, shuffle=True{drop_last})

model = {model_line}
criterion = nn.CrossEntropyLoss()
optimizer = {opt}

for epoch in range({config.epochs}):
    model.train()
    for images, labels in train_loader:      # ② a minibatch, ③ preprocessed
        optimizer.zero_grad()
        outputs = model(images)              # ④ forward → ⑤ output
        loss = criterion(outputs, labels)    # ⑥ loss
        loss.backward()                      # ⑦ gradients
        optimizer.step()                     # ⑧ parameter update
    model.eval()
    with torch.no_grad():
        ...                                  # validation loss and accuracy
"""
