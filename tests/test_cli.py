"""`python -m core.train`: JSON lines per epoch, a final test accuracy, one-line errors."""
import json
import subprocess
import sys

from conftest import ROOT


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core.train", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_json_lines_per_epoch_then_test_accuracy(tmp_path):
    out = run_cli("--epochs", "2", "--batch-size", "32", "--train-subset", "1024", "--offline", "--json",
                  "--save", str(tmp_path / "m.pt"))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [row["epoch"] for row in lines[:-1]] == [1, 2]
    for row in lines[:-1]:
        assert {"epoch", "train_loss", "val_loss", "val_acc", "train_seconds", "seconds"} <= row.keys()
        assert row["seconds"] >= row["train_seconds"] > 0
    assert 0.5 < lines[-1]["test_acc"] <= 1 and lines[-1]["status"] == "finished"
    assert (tmp_path / "m.pt").stat().st_size > 100_000


def test_plain_output_names_the_data_source():
    out = run_cli("--epochs", "1", "--train-subset", "256", "--offline")
    assert out.returncode == 0, out.stderr
    assert "bundled sample: 8,000 train / 1,000 validation / 1,000 test" in out.stdout
    assert "test accuracy:" in out.stdout


def test_bad_arguments_get_one_line_and_exit_code_2():
    for args in (["--batch-size", "0"], ["--optimizer", "magic"], ["--lr", "abc"], ["--dropout", "1.5"],
                 ["--hidden", "128,0"], ["--activation", "swish"], ["--order", "random"]):
        out = run_cli(*args, "--offline")
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error:"), out.stderr


def test_the_cuda_graph_is_on_unless_asked_off():
    from core.train import build_parser, config_from_args

    assert config_from_args(build_parser().parse_args([])).cuda_graph
    assert not config_from_args(build_parser().parse_args(["--no-cuda-graph"])).cuda_graph


def test_hidden_layers_and_activation_from_the_command_line(tmp_path):
    from core.checkpoint import load_checkpoint
    from core.train import build_parser, config_from_args

    def parsed(*args):
        return config_from_args(build_parser().parse_args(list(args)))

    assert parsed().hidden == (128, 64) and parsed().activation == "relu"  # the lesson's
    assert parsed("--hidden", "256,128,64", "--activation", "tanh").hidden == (256, 128, 64)
    assert parsed("--hidden", "").hidden == parsed("--hidden", "0").hidden == ()
    out = run_cli("--epochs", "1", "--train-subset", "256", "--offline", "--json", "--hidden", "32",
                  "--activation", "sigmoid", "--save", str(tmp_path / "m.pt"))
    assert out.returncode == 0, out.stderr
    model, config = load_checkpoint(tmp_path / "m.pt")
    assert config.hidden == (32,) and config.activation == "sigmoid" and model.fc1.weight.shape == (32, 784)
    bad = run_cli("--hidden", "128,abc", "--offline")
    assert bad.stderr == ("error: argument --hidden: Hidden layers are given as their widths separated by commas, "
                          "such as 128,64, or 0 for none (got \"128,abc\"). (see --help)\n")
    too_many = run_cli("--hidden", "8,8,8,8,8", "--offline")
    assert "An MLP here has at most 4 hidden layers" in too_many.stderr


def test_sample_order_and_switches_from_the_command_line():
    from core.train import build_parser, config_from_args

    def parsed(*args):
        return config_from_args(build_parser().parse_args(list(args)))

    assert parsed().order == "shuffle" and not parsed().batchnorm and not parsed().augment
    assert [parsed("--order", order).order for order in ("fixed", "file", "sorted")] == ["fixed", "file", "sorted"]
    both = parsed("--batchnorm", "--augment")
    assert both.batchnorm and both.augment
    out = run_cli("--epochs", "1", "--train-subset", "256", "--offline", "--json", "--order", "sorted")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["status"] == "finished"


def test_full_batch_and_a_forgotten_zero_grad_from_the_command_line():
    from core.train import FULL_BATCH, build_parser, config_from_args

    def parsed(*args):
        return config_from_args(build_parser().parse_args(list(args)))

    assert parsed().zero_grad and parsed().batch_size == 64
    assert parsed("--batch-size", "all").batch_size == FULL_BATCH and not parsed("--no-zero-grad").zero_grad
    out = run_cli("--epochs", "2", "--train-subset", "256", "--offline", "--json", "--optimizer", "sgd", "--lr", "0.1",
                  "--batch-size", "all", "--no-zero-grad")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["status"] == "finished"
    bad = run_cli("--batch-size", "everything", "--offline")
    assert bad.returncode == 2 and 'or "all" for the whole training set' in bad.stderr
