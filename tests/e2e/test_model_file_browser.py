"""In Chromium: save the model in use from the sidebar, load a saved CNN, and have a foreign file refused."""
import torch

from core import data as D
from core.checkpoint import load_checkpoint, save_checkpoint
from core.train import TrainConfig, train
from tests.e2e.conftest import wait_for_app


def open_panel(page, url: str, title: str = "Save or load the model"):
    page.goto(url)
    wait_for_app(page)
    page.get_by_text(title).click()


def test_save_then_load_a_cnn_and_refuse_a_foreign_file(server_url, page, tmp_path):
    open_panel(page, f"{server_url}/results")
    with page.expect_download() as download:
        page.get_by_role("button", name="Save the model in use (.pt)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    model, config = load_checkpoint(saved)  # the default model, as a file Python can read
    assert saved.name == "training-loop-lab-mlp.pt" and config.model == "mlp" and config.epochs == 10

    splits = D.load_splits(download=False)
    cnn = train(TrainConfig(model="cnn", epochs=1, train_subset=300, device="cpu"), splits)
    save_checkpoint(tmp_path / "my-cnn.pt", cnn.model, cnn.config)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(tmp_path / "my-cnn.pt"))
    page.wait_for_selector("text=Model in use: loaded from my-cnn.pt — CNN")
    page.wait_for_selector("text=The CNN's first layer has 16 filters")  # the page now reads the loaded CNN

    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(tmp_path / "other.pt"))
    page.wait_for_selector("text=other.pt was not saved by Training Loop Lab, and it is not the lecture's model file")
