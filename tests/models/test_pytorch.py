"""The pytorch flavor (skipped where torch is not installed: see README, Models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lakeml  # noqa: E402
import lakeml.pyfunc  # noqa: E402
import lakeml.pytorch  # noqa: E402
from lakeml.errors import InvalidArgument  # noqa: E402


@pytest.fixture(scope="module")
def net(iris: tuple[Any, Any]) -> Any:
    X, y = iris
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    inputs = torch.tensor(X.to_numpy(), dtype=torch.float32)
    labels = torch.tensor(y.to_numpy())
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), labels).backward()
        opt.step()
    return model


def test_round_trip_native_and_pyfunc(net: Any, tmp_path: Path, iris: tuple[Any, Any]) -> None:
    X, _ = iris
    example = X.head(3).to_numpy(dtype=np.float32)
    lakeml.pytorch.save_model(net, tmp_path / "m", input_example=example)
    with torch.no_grad():
        expected = net(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy()
    native = lakeml.pytorch.load_model(str(tmp_path / "m"))
    assert isinstance(native, torch.nn.Sequential)
    with torch.no_grad():
        np.testing.assert_allclose(native(torch.tensor(X.to_numpy(),
                                                       dtype=torch.float32)).numpy(), expected)
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    sig = model.metadata.signature
    assert sig.inputs.specs[0].shape == (-1, 4) and sig.outputs.specs[0].shape == (-1, 3)
    np.testing.assert_allclose(model.predict(X.to_numpy(dtype=np.float32)), expected, rtol=1e-6)
    with pytest.raises(InvalidArgument, match=r"shape \(2, 3\)"):
        model.predict(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(InvalidArgument, match="dtype float64, which cannot be converted"):
        model.predict(X.to_numpy())  # float64 -> float32 narrows
    assert net.training  # saving scored the example without switching the caller's mode


def test_log_model_and_load_by_runs_uri(net: Any, store_uri: str,
                                        iris: tuple[Any, Any]) -> None:
    X, _ = iris
    with lakeml.start_run():
        info = lakeml.pytorch.log_model(net, "net")
    out = lakeml.pyfunc.load_model(info.model_uri).predict(X.head(2).to_numpy())
    assert out.shape == (2, 3)
    assert "torch==" in Path(lakeml.pyfunc.load_model(info.model_uri).local_path,
                             "requirements.txt").read_text()


class _ModeProbe(torch.nn.Module):
    """Returns 1.0 per row in training mode, 0.0 in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x: Any) -> Any:
        return torch.full((x.shape[0], 1), float(self.training))


def test_pyfunc_is_in_eval_mode_from_load_and_never_switched(tmp_path: Path) -> None:
    probe = _ModeProbe()
    lakeml.pytorch.save_model(probe, tmp_path / "m")
    assert probe.training  # saving left the caller's module as it was
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    raw = model.get_raw_model()
    assert raw.training is False  # eval() once, at load
    assert model.predict(np.zeros((2, 1), dtype=np.float32)).tolist() == [[0.0], [0.0]]
    calls = []
    raw.train = lambda mode=True: calls.append(mode)  # type: ignore[method-assign]
    raw.eval = lambda: calls.append("eval")  # type: ignore[method-assign]
    model.predict(np.zeros((1, 1), dtype=np.float32))
    assert calls == []  # no per-call toggling that would race between server threads


def test_integer_inputs_stay_integers_for_embeddings(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Embedding(10, 3), torch.nn.Flatten())
    lakeml.pytorch.save_model(net, tmp_path / "m")
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    ids = np.array([[1, 2], [3, 9]], dtype=np.int64)
    with torch.no_grad():
        expected = net(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(model.predict(ids), expected)


def test_not_a_module_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="torch.nn.Module, got dict"):
        lakeml.pytorch.save_model({}, tmp_path / "m")
