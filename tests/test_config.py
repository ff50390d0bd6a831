"""Settings: explicit argument > environment > conf/lakeml.yaml > default."""

from __future__ import annotations

from pathlib import Path

import pytest

import lakeml
from lakeml import config
from lakeml.errors import InvalidArgument


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config.get("flush_interval") == 1.0  # the default
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "lakeml.yaml").write_text("flush_interval: 3\nstore: from-conf\n")
    assert config.get("flush_interval") == 3.0
    monkeypatch.setenv("LAKEML_FLUSH_INTERVAL", "0.5")
    assert config.get("flush_interval") == 0.5
    assert config.get("flush_interval", 7.0) == 7.0
    assert lakeml.get_store_uri() == str(tmp_path / "from-conf")


def test_store_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert lakeml.get_store_uri() == str(tmp_path / "lakeml-store")  # embedded default
    monkeypatch.setenv("LAKEML_STORE", f"file://{tmp_path}/env-store")
    assert lakeml.get_store_uri() == str(tmp_path / "env-store")
    lakeml.set_store(tmp_path / "explicit")
    assert lakeml.get_store_uri() == str(tmp_path / "explicit")


def test_bad_values_name_their_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAKEML_FLUSH_INTERVAL", "-2")
    with pytest.raises(InvalidArgument, match="LAKEML_FLUSH_INTERVAL"):
        config.get("flush_interval")
    monkeypatch.delenv("LAKEML_FLUSH_INTERVAL")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "lakeml.yaml").write_text("flush_intervall: 3\n")
    with pytest.raises(InvalidArgument, match="flush_intervall"):
        config.get("flush_interval")
    monkeypatch.setenv("LAKEML_CONF", str(tmp_path / "missing.yaml"))
    with pytest.raises(InvalidArgument, match="missing.yaml"):
        config.get("store")


def test_file_uri_with_host_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="otherhost"):
        lakeml.set_store("file://otherhost/data")


def test_the_shipped_example_conf_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parent.parent / "conf" / "lakeml.example.yaml"
    monkeypatch.setenv("LAKEML_CONF", str(example))
    assert config.get("flush_interval") == 1.0
    assert config.get("store") == "lakeml-store"
    assert config.storage_options() == {} and config.artifact_storage_options() == {}
