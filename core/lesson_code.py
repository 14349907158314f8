"""The lesson's training loop as a complete script with the Lab's settings filled in.

A learner can copy it into a file or a notebook and run it: it downloads MNIST with torchvision,
holds out a validation set as the app does, trains with the same model, optimizer and batch size,
prints the validation loss and accuracy each epoch and the test accuracy once at the end.
"""
from core.data import AugmentConfig, MEAN, STD, VAL_FRACTION
from core.models import layer_widths, shape_text
from core.train import FULL_BATCH, TrainConfig

ACTIVATION_LAYERS = {"relu": ["nn.ReLU()"], "tanh": ["nn.Tanh()"], "sigmoid": ["nn.Sigmoid()"], "none": []}


def _optimizer(c: TrainConfig) -> str:
    lr = f"lr={c.learning_rate:g}"
    call = {
        "sgd": f"optim.SGD(model.parameters(), {lr}",
        "momentum": f"optim.SGD(model.parameters(), {lr}, momentum={c.momentum:g}",
        "nesterov": f"optim.SGD(model.parameters(), {lr}, momentum={c.momentum:g}, nesterov=True",
        "adam": f"optim.Adam(model.parameters(), {lr}",
        "adamw": f"optim.AdamW(model.parameters(), {lr}",
        "rmsprop": f"optim.RMSprop(model.parameters(), {lr}",
        "adagrad": f"optim.Adagrad(model.parameters(), {lr}",
    }[c.optimizer]
    return call + (f", weight_decay={c.weight_decay:g})" if c.weight_decay else ")")


def _model(c: TrainConfig) -> str:
    """The model as one nn.Sequential, layer for layer the same as core.models (same parameter count)."""
    drop = [f"nn.Dropout({c.dropout:g})"] if c.dropout else []
    if c.model == "mlp":
        widths, act = layer_widths(c.hidden), ACTIVATION_LAYERS[c.activation]
        hidden = [(f"nn.Linear({n_in}, {n_out})", *([f"nn.BatchNorm1d({n_out})"] if c.batchnorm else []), *act, *drop)
                  for n_in, n_out in zip(widths, widths[1:-1])]
        rows = [("nn.Flatten()",), *hidden, (f"nn.Linear({widths[-2]}, 10)",)]
        head = f"# ④ {shape_text(c.hidden)}" + (", no activation function" if c.hidden and not act else "")
    else:
        bn1, bn2 = (["nn.BatchNorm2d(16)"], ["nn.BatchNorm2d(32)"]) if c.batchnorm else ([], [])
        rows = [("nn.Conv2d(1, 16, 3, padding=1)", *bn1, "nn.ReLU()", "nn.MaxPool2d(2)"),
                ("nn.Conv2d(16, 32, 3, padding=1)", *bn2, "nn.ReLU()", "nn.MaxPool2d(2)"),
                ("nn.Flatten()", *drop, "nn.Linear(32 * 7 * 7, 10)")]
        head = "# ④ 2 × (conv 3×3 + ReLU + max-pool), then linear"
    body = "".join(f"    {', '.join(row)},\n" for row in rows)
    return f"model = nn.Sequential(  {head}\n{body}).to(device)"


def _augmented_train_set() -> str:
    """Data augmentation in torchvision's words: the training set gets its own random transform."""
    a = AugmentConfig()
    shift = f"{a.shift_pixels / 28:.3f}"
    return ("augment = transforms.Compose([  # data augmentation: small rotation and shift, then noise\n"
            f"    transforms.RandomAffine(degrees={a.rotate_degrees:g}, translate=({shift}, {shift})),\n"
            "    transform,\n"
            f"    transforms.Lambda(lambda x: (x + {a.noise_std:g} * torch.randn_like(x)).clamp(-1, 1)),\n"
            "])\n"
            "train_set = Subset(datasets.MNIST(\"./data\", train=True, transform=augment), train_set.indices)\n")


def _order(c: TrainConfig) -> tuple[str, str]:
    """(a line that puts the training set in the run's sample order, or "", what the loader does each epoch)."""
    if c.order == "fixed":
        return (f"order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed({c.seed}))"
                "  # shuffled once\n"
                "train_set = Subset(train_set, order.tolist())\n", "in the same order every epoch")
    if c.order == "sorted":
        return ("digits = torch.tensor([label for _, label in train_set])\n"
                "train_set = Subset(train_set, torch.argsort(digits, stable=True).tolist())  # 0s, then 1s…\n",
                "in the same order every epoch")
    return "", "in the stored order every epoch" if c.order == "file" else "shuffled afresh every epoch"


def _early_stopping(c: TrainConfig, indent: str) -> str:
    if not c.patience:
        return ""
    return (f"{indent}if val_loss < best_val_loss:  # early stopping: keep the best epoch's weights\n"
            f"{indent}    best_val_loss, bad_epochs = val_loss, 0\n"
            f"{indent}    best_state = copy.deepcopy(model.state_dict())\n"
            f"{indent}else:\n"
            f"{indent}    bad_epochs += 1\n"
            f"{indent}    if bad_epochs >= {c.patience}:\n"
            f"{indent}        print(\"early stop: the validation loss stopped improving\")\n"
            f"{indent}        break\n")


def lesson_code(config: TrainConfig) -> str:
    """A runnable PyTorch script of the lesson's loop with exactly these settings."""
    c = config
    extra_data = (_augmented_train_set() if c.augment else "") + (
        f"train_set = Subset(train_set, range({c.train_subset}))  # train on only the first {c.train_subset} samples\n"
        if c.train_subset else "")
    reorder, each_epoch = _order(c)
    extra_data += reorder
    patience_setup = "best_val_loss, bad_epochs, best_state = float(\"inf\"), 0, None\n" if c.patience else ""
    restore = "if best_state is not None:\n    model.load_state_dict(best_state)\n" if c.patience else ""
    drop_last = ", drop_last=True" if c.drop_last else ""
    batch = "len(train_set)" if c.batch_size == FULL_BATCH else c.batch_size  # full batch: one minibatch per epoch
    zero_grad = ("        optimizer.zero_grad()\n" if c.zero_grad else
                 "        # no zero_grad: loss.backward() adds this minibatch's gradients to the old ones\n")
    return f"""{"import copy" + chr(10) * 2 if c.patience else ""}import torch
from torch import nn, optim
from torch.utils.data import DataLoader, Subset, random_split
from torchvision import datasets, transforms

torch.manual_seed({c.seed})
device = "cuda" if torch.cuda.is_available() else "cpu"

# ① data on disk, ③ preprocessing: pixels 0…1 → -1…1
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(({MEAN:g},), ({STD:g},))])
full_train = datasets.MNIST("./data", train=True, download=True, transform=transform)
test_set = datasets.MNIST("./data", train=False, download=True, transform=transform)
n_val = round(len(full_train) * {VAL_FRACTION:g})  # the validation set: for tuning and the curves
train_set, val_set = random_split(full_train, [len(full_train) - n_val, n_val],
                                  generator=torch.Generator().manual_seed(0))
{extra_data}
# ② minibatches, {each_epoch}
train_loader = DataLoader(train_set, batch_size={batch}, shuffle={c.order == "shuffle"}{drop_last})
val_loader = DataLoader(val_set, batch_size=1000)
test_loader = DataLoader(test_set, batch_size=1000)

{_model(c)}
criterion = nn.CrossEntropyLoss()
optimizer = {_optimizer(c)}


def evaluate(loader):
    \"\"\"Mean loss and accuracy on a whole set: evaluation mode, no gradients.\"\"\"
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            total_loss += criterion(outputs, labels).item() * len(labels)
            correct += (outputs.argmax(dim=1) == labels).sum().item()
    return total_loss / len(loader.dataset), correct / len(loader.dataset)


{patience_setup}for epoch in range({c.epochs}):
    model.train()
    for images, labels in train_loader:      # ② a minibatch, ③ preprocessed
        images, labels = images.to(device), labels.to(device)
{zero_grad}        outputs = model(images)              # ④ forward → ⑤ output
        loss = criterion(outputs, labels)    # ⑥ loss
        loss.backward()                      # ⑦ gradients
        optimizer.step()                     # ⑧ parameter update
    val_loss, val_acc = evaluate(val_loader)
    print(f"epoch {{epoch + 1}}: validation loss {{val_loss:.4f}}, accuracy {{val_acc:.1%}}")
{_early_stopping(c, "    ")}
{restore}test_loss, test_acc = evaluate(test_loader)  # the test set: once, at the very end
print(f"test accuracy {{test_acc:.1%}}")
"""
