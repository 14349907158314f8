"""Classroom presets: ready experiments of two runs that differ in one idea.

Each preset names its two variants' settings (the TrainConfig fields they set; everything else
stays at the TrainConfig defaults) and the catalogue keys `lab.preset_<name>` (title) and
`lab.preset_<name>_watch` (what to watch). All of them run in seconds on a 2-core CPU.
"""
from core.data import batch_plan
from core.train import TrainConfig

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
}


def preset_config(name: str, variant: int, **keep) -> TrainConfig:
    """Variant 0 or 1 of preset `name` as a TrainConfig; `keep` carries settings the preset leaves alone (seed, device…)."""
    settings = {**keep, "train_subset": 0, "patience": 0, **PRESETS[name][variant]}
    return TrainConfig(**settings).validate()


def updates_per_epoch(name: str, n_train: int) -> tuple[int, int]:
    """Parameter updates per epoch of preset `name`'s two variants on a training set of `n_train`."""
    return tuple(batch_plan(config.samples(n_train), config.batch_size, config.drop_last)[0]
                 for config in (preset_config(name, 0), preset_config(name, 1)))
