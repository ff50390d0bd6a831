"""The plain-loop hook's logging, checked where torch is missing too.

The hook reads an optimizer's ``param_groups`` (a list of dicts, as every
``torch.optim`` optimizer has) and takes the metric values it is given; here an
object of that shape stands in for the optimizer, and the model is left out
(``log_models=False``) or is not a torch module, which must cost one warning.
tests/autolog/test_pytorch.py runs the same hook on real torch models.
"""

from __future__ import annotations

import pytest

import lakeml
import lakeml.pytorch
from lakeml.autolog import AutologgingWarning
from tests.autolog.conftest import all_runs


class SGDShaped:
    param_groups = [{"params": [], "lr": 0.1, "momentum": 0.9, "nesterov": False},
                    {"params": [], "lr": 0.01, "momentum": 0.0, "nesterov": False}]


def test_hook_logs_optimizer_settings_and_epoch_history() -> None:
    with lakeml.pytorch.log_training(None, SGDShaped(), log_models=False) as log:
        for epoch in range(3):
            log.epoch(loss=1 / (epoch + 1), val_loss=2 / (epoch + 1), note="not a number")
    (run,) = all_runs()
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "pytorch"
    assert run.data.params == {"optimizer_name": "SGDShaped", "lr": "0.1", "momentum": "0.9",
                               "nesterov": "False", "group1.lr": "0.01",
                               "group1.momentum": "0.0", "group1.nesterov": "False",
                               "epochs": "3"}
    history = lakeml.Client().get_metric_history(run.info.run_id, "val_loss")
    assert [(m.step, m.value) for m in history] == [(0, 2.0), (1, 1.0), (2, 2 / 3)]
    assert set(run.data.metrics) == {"loss", "val_loss"}


def test_hook_logs_into_the_active_run_and_a_failure_is_one_warning() -> None:
    with lakeml.start_run() as active:
        with pytest.warns(AutologgingWarning, match="model") as caught:
            with lakeml.pytorch.log_training(object(), SGDShaped()) as log:
                log.epoch(5, loss=0.5)
        assert len(caught) == 1
        assert lakeml.active_run().info.run_id == active.info.run_id  # left open
    (run,) = all_runs()
    assert run.data.params["epochs"] == "6"
    history = lakeml.Client().get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(5, 0.5)]
