"""PyTorch autologging: the plain-loop hook and Lightning's Trainer.

torch is not installed on the project's machines (PyPI's Linux wheel brings
gigabytes of CUDA libraries), so these tests skip there and run wherever
torch (and for the last one, Lightning) is installed.
"""

from __future__ import annotations

from typing import Any

import pytest

import lakeml
import lakeml.pytorch
from tests.autolog.conftest import all_runs

torch = pytest.importorskip("torch")


def _diabetes() -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return (torch.tensor(X, dtype=torch.float32),
            torch.tensor(y, dtype=torch.float32).unsqueeze(1) / 100)


def test_plain_loop_logs_optimizer_epochs_losses_and_model() -> None:
    X, y = _diabetes()
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    with lakeml.pytorch.log_training(model, optimizer) as log:
        for _ in range(4):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(X), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            log.epoch(loss=loss.item())
    (run,) = all_runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["optimizer_name"] == "SGD"
    assert run.data.params["lr"] == "0.05"
    assert run.data.params["momentum"] == "0.9"
    assert run.data.params["epochs"] == "4"
    history = lakeml.Client().get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == list(enumerate(losses))
    loaded = lakeml.pytorch.load_model(f"runs:/{run.info.run_id}/model")
    assert torch.equal(loaded(X), model(X))


def test_plain_loop_error_fails_the_run() -> None:
    model = torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="diverged"):
        with lakeml.pytorch.log_training(model) as log:
            log.epoch(loss=1.0)
            raise RuntimeError("diverged")
    (run,) = all_runs()
    assert run.info.status == "FAILED"
    assert lakeml.Client().list_artifacts(run.info.run_id) == []


# Lightning 2.6 calls a torch.utils._pytree API that torch 2.15 deprecates: their warning.
@pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")
def test_lightning_trainer_fit_is_autologged() -> None:
    pl = pytest.importorskip("lightning.pytorch")
    X, y = _diabetes()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64)

    class Regressor(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(X.shape[1], 1)

        def training_step(self, batch: Any, _: int) -> Any:
            loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=0.01)

    lakeml.pytorch.autolog()
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Regressor(), loader)
    (run,) = all_runs()
    assert run.data.params["optimizer_name"] == "Adam"
    assert run.data.params["lr"] == "0.01"
    assert run.data.params["epochs"] == "3"
    steps = [m.step for m in lakeml.Client().get_metric_history(run.info.run_id, "train_loss")]
    assert steps == [0, 1, 2]
