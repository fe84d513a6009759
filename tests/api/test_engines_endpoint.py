"""GET /v1/runwayml/engines: what each operation offers, whether it can run, and on which device.

Fast on purpose: no model is loaded, and torch is never imported into the API (this) process.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import API, Server, stand_in_gpu_probe
from taxiway.engines import catalog, devices

OPERATIONS = ["upscale", "video_to_video", "expand", "extend"]


def _engines(server: Server) -> dict[str, Any]:
    response = server.new_user().http.get("/engines")
    assert response.status_code == 200, response.text
    return response.json()


def _by_model(offered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {engine["model"]: engine for engine in offered}


def _wan_folder(models_dir: Path, name: str) -> Path:
    folder = models_dir / name
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "WanVACEPipeline"}')
    return folder


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def model_server(make_server: Callable[..., Server], models_dir: Path) -> Server:
    """A spandrel checkpoint that is not there and a Wan VACE folder that is; expand defaults to classic."""
    _wan_folder(models_dir, "Wan2.1-VACE-1.3B-diffusers")
    return make_server(
        workers=0,
        neural_device="cpu",
        models_dir=models_dir,
        models={
            "x4plus": {"engine": "spandrel", "path": "RealESRGAN_x4plus.pth"},
            "wan": {"engine": "wan-vace", "path": "Wan2.1-VACE-1.3B-diffusers", "steps": 30},
        },
        default_models={"expand": "classic"},
    )


def test_a_default_server_offers_the_classic_engines_only(idle_server: Server) -> None:
    body = _engines(idle_server)
    assert list(body["operations"]) == OPERATIONS
    for operation, offered in body["operations"].items():
        assert offered == [
            {
                "model": "classic",
                "engine": catalog.CLASSIC_ENGINES[operation],
                "kind": "classic",
                "default": True,
                "status": "ready",
                "problem": None,
                "path": None,
                "settings": {},
            }
        ]
    # No neural model: nothing runs on a neural device, so none is probed.
    assert body["device"] == {"setting": "auto", "resolved": "unknown", "gpu": None, "problem": None}


def test_configured_models_show_their_status_in_default_order(model_server: Server, models_dir: Path) -> None:
    torch_before = "torch" in sys.modules
    operations = _engines(model_server)["operations"]
    assert {op: [e["model"] for e in offered] for op, offered in operations.items()} == {
        "upscale": ["x4plus", "classic"],
        "video_to_video": ["wan", "classic"],
        "expand": ["classic", "wan"],  # default_models.expand = "classic"
        "extend": ["wan", "classic"],
    }
    for offered in operations.values():
        assert [e["default"] for e in offered] == [True] + [False] * (len(offered) - 1)

    checkpoint = models_dir.resolve() / "RealESRGAN_x4plus.pth"
    x4plus = _by_model(operations["upscale"])["x4plus"]
    assert x4plus == {
        "model": "x4plus",
        "engine": "spandrel:x4plus",
        "kind": "spandrel",
        "default": True,
        "status": "missing weights",
        "problem": f"no checkpoint file at {checkpoint}",
        "path": str(checkpoint),
        "settings": {"compile": False, "temporal_smoothing": 0.0},
    }
    wan = _by_model(operations["extend"])["wan"]
    assert (wan["engine"], wan["kind"], wan["status"], wan["problem"]) == (
        "wan-vace:wan",
        "wan-vace",
        "ready",
        None,
    )
    assert wan["path"] == str(models_dir.resolve() / "Wan2.1-VACE-1.3B-diffusers")
    assert wan["settings"]["steps"] == 30 and wan["settings"]["resolution"] == "480p"
    assert not {"path", "engine", "operations"} & set(wan["settings"])
    # The same model is listed under every operation it serves.
    assert _by_model(operations["expand"])["wan"] == wan | {"default": False}
    assert torch_before or "torch" not in sys.modules  # the listing never imports it here


def test_a_checkpoint_put_in_place_is_ready_without_a_restart(model_server: Server, models_dir: Path) -> None:
    api = model_server.new_user()
    assert _by_model(api.http.get("/engines").json()["operations"]["upscale"])["x4plus"]["status"] == (
        "missing weights"
    )
    (models_dir / "RealESRGAN_x4plus.pth").write_bytes(b"weights")
    x4plus = _by_model(api.http.get("/engines").json()["operations"]["upscale"])["x4plus"]
    assert (x4plus["status"], x4plus["problem"]) == ("ready", None)


def test_a_model_whose_packages_are_missing_is_not_installed(
    make_server: Callable[..., Server], models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(catalog.ENGINE_PACKAGES, "wan-vace", ("torch", "taxiway_no_such_package"))
    _wan_folder(models_dir, "wan")
    server = make_server(
        workers=0,
        neural_device="cpu",
        models_dir=models_dir,
        models={"wan": {"engine": "wan-vace", "path": "wan", "operations": ["extend"]}},
    )
    operations = _engines(server)["operations"]
    wan = _by_model(operations["extend"])["wan"]
    assert wan["status"] == "not installed"
    assert "taxiway_no_such_package" in wan["problem"] and "taxiway[neural]" in wan["problem"]
    assert "torch," not in wan["problem"]  # only what is missing is named
    assert [e["model"] for e in operations["expand"]] == ["classic"]  # operations = ["extend"] only


def test_the_upscale_model_shorthand_is_listed_under_its_file_name(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    checkpoint = tmp_path / "realesr-general-x4v3.pth"
    checkpoint.write_bytes(b"weights")
    server = make_server(workers=0, neural_device="cpu", upscale_model=str(checkpoint))
    body = _engines(server)
    first = body["operations"]["upscale"][0]
    assert (first["model"], first["engine"], first["status"], first["default"]) == (
        "realesr-general-x4v3.pth",
        "spandrel:realesr-general-x4v3.pth",
        "ready",
        True,
    )
    # neural_device = "cpu" needs no probe.
    assert body["device"] == {"setting": "cpu", "resolved": "cpu", "gpu": None, "problem": None}


def test_workers_elsewhere_make_the_device_unknown(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = make_server(executor="none", neural_device="cpu", upscale_model=str(tmp_path / "x.pth"))
    assert _engines(server)["device"]["resolved"] == "unknown"


def test_the_device_is_probed_once_outside_this_process(
    make_server: Callable[..., Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in probe (no torch import: fast) in a child interpreter, run once per server."""
    runs = tmp_path / "probe-runs"
    probe = f"open({str(runs)!r}, 'a').write('x'); print('{{\"cuda\": true, \"gpu\": \"Test GPU\"}}')"
    monkeypatch.setattr(devices, "DEVICE_PROBE", probe)
    server = make_server(workers=0, upscale_model=str(tmp_path / "x.pth"))
    expected = {"setting": "auto", "resolved": "cuda", "gpu": "Test GPU", "problem": None}
    assert _engines(server)["device"] == expected
    assert _engines(server)["device"] == expected
    assert runs.read_text() == "x"


def test_a_failing_probe_answers_unknown_not_500(
    make_server: Callable[..., Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "DEVICE_PROBE", "raise SystemExit('libcuda exploded')")
    server = make_server(workers=0, upscale_model=str(tmp_path / "x.pth"))
    device = _engines(server)["device"]
    assert device["resolved"] == "unknown" and "libcuda exploded" in device["problem"]


def test_the_real_probe_asks_torch_in_a_child_process(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    if importlib.util.find_spec("torch") is None:  # not importorskip: that would import it here
        pytest.skip("torch is not installed")
    torch_before = "torch" in sys.modules
    server = make_server(workers=0, upscale_model=str(tmp_path / "x.pth"))
    device = _engines(server)["device"]
    assert device["resolved"] in ("cpu", "cuda"), device
    assert (device["gpu"] is not None) == (device["resolved"] == "cuda")
    assert torch_before or "torch" not in sys.modules


def _defaults(server: Server) -> dict[str, str]:
    operations = _engines(server)["operations"]
    return {op: next(e["model"] for e in offered if e["default"]) for op, offered in operations.items()}


@pytest.mark.parametrize(
    ("gpus", "default_models", "expected"),
    [
        # Without a GPU the classic engines are the fallback ...
        (0, {}, dict.fromkeys(OPERATIONS, "classic")),
        # ... unless the configuration names a model as the default.
        (0, {"upscale": "x4plus"}, {"upscale": "x4plus", "video_to_video": "classic"}),
        (1, {}, {"upscale": "x4plus", "video_to_video": "wan", "expand": "wan", "extend": "wan"}),
    ],
)
def test_without_a_gpu_requests_naming_no_model_get_the_classic_engine(
    make_server: Callable[..., Server],
    models_dir: Path,
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
    gpus: int,
    default_models: dict[str, str],
    expected: dict[str, str],
) -> None:
    stand_in_gpu_probe(monkeypatch, gpus)
    _wan_folder(models_dir, "wan")
    server = make_server(
        workers=0,  # neural_device "auto", as by default
        models_dir=models_dir,
        models={
            "x4plus": {"engine": "spandrel", "path": "x4.pth"},
            "wan": {"engine": "wan-vace", "path": "wan"},
        },
        default_models=default_models,
    )
    assert _defaults(server).items() >= expected.items()

    api = server.new_user()
    api.create_account(max_jobs=10)
    asset = api.upload(clip, "video/mp4")["assetId"]

    def engine(**model: str) -> str:
        response = api.create("gen3alpha/upscale", {"assetId": asset, **model})
        assert response.status_code == 200, response.text
        return response.json()["options"]["engine"]

    assert engine() == ("classic-upscale" if expected["upscale"] == "classic" else "spandrel:x4plus")
    assert engine(model="x4plus") == "spandrel:x4plus"  # a named model runs, on the CPU if need be


@pytest.mark.parametrize(
    ("setting", "cuda", "resolved", "problem"),
    [
        ("auto", True, "cuda", None),
        ("auto", False, "cpu", None),
        ("cuda", True, "cuda", None),
        ("cuda", False, "unknown", "neural_device is 'cuda' but torch sees no CUDA device"),
    ],
)
def test_resolve_device(setting: str, cuda: bool, resolved: str, problem: str | None) -> None:
    gpu = "NVIDIA H100 80GB HBM3" if cuda else None
    assert devices.resolve_device(setting, cuda, gpu) == {
        "setting": setting,
        "resolved": resolved,
        "gpu": gpu,
        "problem": problem,
    }


@pytest.mark.parametrize("header", [None, "Bearer nope"])
def test_engines_needs_a_token(idle_server: Server, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(idle_server.base_url + API + "/engines", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "code": 401}
