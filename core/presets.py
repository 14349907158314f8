"""Classroom presets: ready experiments of two runs that differ in one idea.

Each preset names its two variants' settings (the TrainConfig fields they set; everything else
stays at the TrainConfig defaults) and the catalogue keys `lab.preset_<name>` (title) and
`lab.preset_<name>_watch` (what to watch). All of them run in seconds on a 2-core CPU.
"""
from core.data import batch_plan
from core.models import LESSON_HIDDEN
from core.train import TrainConfig

LESSON_ADAM = dict(optimizer="adam", learning_rate=1e-3, batch_size=64, dropout=0.0)  # the lesson's training settings

PRESETS: dict[str, tuple[dict, dict]] = {
    # too high: the loss explodes within a few steps; too low: it barely moves in 3 epochs
    "learning_rate": (dict(optimizer="sgd", learning_rate=1.0, batch_size=8, epochs=3, dropout=0.0),
                      dict(optimizer="sgd", learning_rate=1e-4, batch_size=8, epochs=3, dropout=0.0)),
    # many noisy updates per epoch against few smooth ones (2,000 and 32 on the bundled sample)
    "batch_size": (dict(optimizer="sgd", learning_rate=0.05, batch_size=4, epochs=2, dropout=0.0),
                   dict(optimizer="sgd", learning_rate=0.05, batch_size=256, epochs=2, dropout=0.0)),
    # 300 training samples: without dropout validation loss turns up; with dropout 0.5 much later
    "overfitting": (dict(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=40, train_subset=300, dropout=0.0),
                    dict(optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=40, train_subset=300, dropout=0.5)),
    # each at its usual learning rate
    "optimizer": (dict(optimizer="sgd", learning_rate=0.01, batch_size=64, epochs=5, dropout=0.0),
                  dict(optimizer="adam", learning_rate=1e-3, batch_size=64, epochs=5, dropout=0.0)),
    # stacking layers: one linear layer 784 → 10 levels off; 128-64 with ReLU keeps climbing (10 epochs)
    "depth": (dict(LESSON_ADAM, epochs=10, model="mlp", hidden=(), activation="relu"),
              dict(LESSON_ADAM, epochs=10, model="mlp", hidden=LESSON_HIDDEN, activation="relu")),
    # the same 128-64 stack with and without an activation function: without, it is one linear layer
    "nonlinearity": (dict(LESSON_ADAM, epochs=10, model="mlp", hidden=LESSON_HIDDEN, activation="relu"),
                     dict(LESSON_ADAM, epochs=10, model="mlp", hidden=LESSON_HIDDEN, activation="none")),
    # sorted by digit, each minibatch holds one digit: the loss saws, each epoch ends predicting 9s
    "random_batches": (dict(optimizer="sgd", learning_rate=0.05, batch_size=64, epochs=3, dropout=0.0, order="shuffle"),
                       dict(optimizer="sgd", learning_rate=0.05, batch_size=64, epochs=3, dropout=0.0, order="sorted")),
    # the exact gradient of the whole training set, one smooth update per epoch, against 125 noisy minibatch ones
    "gradient_descent": (dict(optimizer="sgd", learning_rate=0.1, batch_size="all", epochs=3, dropout=0.0),
                         dict(optimizer="sgd", learning_rate=0.1, batch_size=64, epochs=3, dropout=0.0)),
    # forgotten zero_grad: each step uses the sum of all gradients so far; learns faster, then falls to chance
    "zero_grad": (dict(optimizer="sgd", learning_rate=0.01, batch_size=64, epochs=3, dropout=0.0, zero_grad=True),
                  dict(optimizer="sgd", learning_rate=0.01, batch_size=64, epochs=3, dropout=0.0, zero_grad=False)),
}


def preset_config(name: str, variant: int, **keep) -> TrainConfig:
    """Variant 0 or 1 of preset `name` as a TrainConfig; `keep` carries settings the preset leaves alone (seed, device…)."""
    settings = {**keep, "train_subset": 0, "patience": 0, **PRESETS[name][variant]}
    return TrainConfig(**settings).validate()


def updates_per_epoch(name: str, n_train: int) -> tuple[int, int]:
    """Parameter updates per epoch of preset `name`'s two variants on a training set of `n_train`."""
    return tuple(batch_plan(config.samples(n_train), config.minibatch(n_train), config.drop_last)[0]
                 for config in (preset_config(name, 0), preset_config(name, 1)))
