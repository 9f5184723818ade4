import hashlib

import pytest

from mpkit.errors import AssetError
from mpkit.media import assets


def test_every_asset_matches_its_committed_hash(asset):
    _, items = assets.catalog()
    for name, item in items.items():
        assert hashlib.sha256(asset(name).read_bytes()).hexdigest() == item.sha256


def test_cached_assets_need_no_network(asset, monkeypatch):
    monkeypatch.setattr(assets, "PYPI_SIMPLE", "http://127.0.0.1:9/simple")
    paths = assets.fetch(["carphone.mp4", "face_landmark.tflite"])
    assert paths["carphone.mp4"].stat().st_size == 588804


def test_download_failure_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(assets, "PYPI_SIMPLE", "http://127.0.0.1:9/simple")
    with pytest.raises(AssetError, match=r"facexlib-0\.3\.0\.tar\.gz \(package facexlib\)"):
        assets.fetch(["elder1.jpg"])
    assert not any(tmp_path.rglob("*.jpg"))


def test_missing_asset_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))
    with pytest.raises(AssetError, match="mpkit assets fetch"):
        assets.asset_path("obama.jpg")


def test_tampered_cache_file_is_replaced(asset, tmp_path, monkeypatch):
    good = asset("elder1.jpg").read_bytes()
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))
    target = tmp_path / "assets" / "elder1.jpg"
    target.parent.mkdir(parents=True)
    target.write_bytes(good[:-1] + b"\0")
    assets.fetch(["elder1.jpg"])  # small package: a real download from the registry
    assert hashlib.sha256(target.read_bytes()).hexdigest() == assets.catalog()[1]["elder1.jpg"].sha256


def test_unknown_asset_lists_known(asset):
    with pytest.raises(AssetError, match="known: .*carphone.mp4"):
        assets.fetch(["nope.png"])
