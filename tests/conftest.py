"""Shared fixtures: real servers on free ports, real databases, real media files."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exclusive import machine_share
from seaweed import SeaweedS3, s3_unavailable_reason
from support import Api, Receiver, Server, free_port, settings_for_test

# Servers started by the suite (in process or not) refuse work only where a test sets a floor of
# free disk space: the suite must not depend on how full this machine's disk is.
os.environ.setdefault("TAXIWAY_MIN_FREE_DISK_MB", "0")
# The suite runs in three processes on two cores (pytest-xdist), each starting servers and workers:
# torch's OpenMP threads (one per core by default) spin while they wait for each other, and with
# other processes on the cores a tiny model ran 20× slower than on one thread. Inherited by every
# server and worker the tests start; the product's own threading is left as it is.
os.environ.setdefault("OMP_NUM_THREADS", "1")

PG_ADMIN_URL = os.environ.get("TAXIWAY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: no PostgreSQL here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


_PG_UNAVAILABLE = _postgres_available()
if _PG_UNAVAILABLE and os.environ.get("TAXIWAY_REQUIRE_POSTGRES") == "1":
    raise RuntimeError(f"TAXIWAY_REQUIRE_POSTGRES=1 but {_PG_UNAVAILABLE}")


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (its URL), dropped afterwards; skips without PostgreSQL."""
    if _PG_UNAVAILABLE:
        pytest.skip(_PG_UNAVAILABLE)
    import psycopg

    name = f"taxiway_test_{secrets.token_hex(6)}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> Callable[[], contextlib.AbstractContextManager[str]]:
    """Makes fresh PostgreSQL databases for fixtures of a wider scope than one test."""
    return fresh_postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_url")


_S3_UNAVAILABLE = s3_unavailable_reason()
if _S3_UNAVAILABLE and os.environ.get("TAXIWAY_REQUIRE_S3") == "1":
    raise RuntimeError(f"TAXIWAY_REQUIRE_S3=1 but {_S3_UNAVAILABLE}")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server on loopback for the whole session, stopped at its end."""
    if _S3_UNAVAILABLE:
        pytest.skip(_S3_UNAVAILABLE)
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_settings(seaweed: SeaweedS3) -> dict[str, Any]:
    """Settings overrides for blobs in SeaweedFS, under a prefix no other test uses."""
    return seaweed.settings_overrides(prefix=f"test-{secrets.token_hex(6)}")


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(**overrides: Any) -> Server:
        overrides.setdefault("port", free_port())
        data_dir = overrides.pop("data_dir", tmp_path / f"data-{len(servers)}")
        server = Server(settings_for_test(data_dir, **overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., Server], database_url: str) -> Server:
    """A server with one worker slot, on each database."""
    return make_server(database_url=database_url)


@pytest.fixture
def idle_server(make_server: Callable[..., Server]) -> Server:
    """A SQLite server that runs no work: tasks stay queued (admission tests)."""
    return make_server(workers=0)


@pytest.fixture
def api(server: Server) -> Api:
    user = server.new_user()
    user.create_account()
    return user


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """A 2 s 320×240 24 fps H.264 clip with AAC audio."""
    from mediafiles import make_video

    return make_video(media_dir / "clip.mp4", width=320, height=240, seconds=2.0, fps=24, audio=True)


@pytest.fixture(scope="session")
def image(media_dir: Path) -> Path:
    from mediafiles import make_image

    return make_image(media_dir / "still.png", width=320, height=240)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Carry the figures a fault test recorded in its report (see fault_figures.py)."""
    outcome = yield
    if call.when == "call":
        from fault_figures import PROPERTY, take

        report = outcome.get_result()
        report.user_properties.extend((PROPERTY, figures) for figures in take())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault tests' figures, whatever the verbosity: the issue asks for them in every run."""
    from fault_figures import summary_lines

    reports = [report for reports in terminalreporter.stats.values() for report in reports]
    lines = summary_lines(report for report in reports if getattr(report, "when", None) == "call")
    if lines:
        terminalreporter.section("fault-test figures")
        for line in lines:
            terminalreporter.write_line(line)


def _ray_unavailable() -> str | None:
    from raycluster import ray_unavailable_reason  # imported late: raycluster is a tests/ module

    return ray_unavailable_reason()


_RAY_UNAVAILABLE = _ray_unavailable()
if _RAY_UNAVAILABLE and os.environ.get("TAXIWAY_REQUIRE_RAY") == "1":
    raise RuntimeError(f"TAXIWAY_REQUIRE_RAY=1 but {_RAY_UNAVAILABLE}")


@pytest.fixture(scope="session")
def ray_head() -> Iterator[Any]:
    """One Ray head (`ray start --head`) on loopback for the whole session: starting one takes ~8 s."""
    if _RAY_UNAVAILABLE:
        pytest.skip(_RAY_UNAVAILABLE)
    from raycluster import RayHead

    head = RayHead().start()
    yield head
    head.stop()


@pytest.fixture(scope="session")
def slow_clip(media_dir: Path) -> Path:
    """Still running when a test strikes at its worker on its first progress (30 frames to 4K: 3 s
    or more here), and no longer: tests that strike run it again to the end."""
    from mediafiles import make_video

    return make_video(media_dir / "slow.mp4", width=320, height=180, seconds=2.5, fps=12, audio=True)


@pytest.fixture(scope="session")
def short_clip(media_dir: Path) -> Path:
    """Half a second of 64×48 with audio: for tests whose output is 4K anyway (upscale), where
    every source frame costs a 4K encode."""
    from mediafiles import make_video

    return make_video(media_dir / "short.mp4", width=64, height=48, seconds=0.5, fps=24, audio=True)


def _neural_unavailable() -> str | None:
    import importlib.util

    missing = [
        name
        for name in ("torch", "spandrel", "safetensors", "diffusers", "transformers", "accelerate", "ftfy")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        return f"the neural extra is not installed ({', '.join(missing)} missing): pip install -e '.[neural]'"
    return None


_NEURAL_UNAVAILABLE = _neural_unavailable()
if _NEURAL_UNAVAILABLE and os.environ.get("TAXIWAY_REQUIRE_NEURAL") == "1":
    raise RuntimeError(f"TAXIWAY_REQUIRE_NEURAL=1 but {_NEURAL_UNAVAILABLE}")


# pytest-xdist (the README's `pytest -n 3 --dist loadfile`) sends each file to one process, so that
# the servers a module shares start once. These files instead split into one unit per value of
# their tests' last parameter, each value having its own module-scoped server: the OpenAPI fuzz,
# once per database (two minutes each on one process would make it the suite's long pole).
SPLIT_BY_LAST_PARAMETER = ("tests/api/test_openapi_schemathesis.py",)


# Files taken first, in this order (xdist hands files out in collection order): the longest (by
# wall time, much of it waiting on restarts and leases), so that none is left running alone at the
# end. The rest follow in the usual order, then LAST_FILES: the one whose test runs alone (marked
# exclusive), when the others are finishing their last short files rather than starting long ones.
FIRST_FILES = (
    "tests/scaleout/test_ray_dispatcher.py",
    "tests/api/test_recovery.py",
    "tests/api/test_openapi_schemathesis.py",
    "tests/realworld/test_every_operation.py",
    "tests/api/test_operation_validation.py",
    "tests/neural/test_wan_vace.py",
    "tests/neural/test_real_footage_neural.py",
    "tests/api/test_bad_media.py",
    "tests/api/test_admission.py",
    "tests/cli/test_cli.py",
    "tests/api/test_task_lifecycle.py",
    "tests/client/test_client.py",
    "tests/neural/test_sr_upscale.py",
)


LAST_FILES = ("tests/api/test_queue_estimates.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(FIRST_FILES)}
    rank |= {path: len(FIRST_FILES) + 1 + n for n, path in enumerate(LAST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(FIRST_FILES)))  # stable


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False  # keep the order above, not most-tests-first
    from xdist.scheduler import LoadFileScheduling

    class FileOrParameterScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path in SPLIT_BY_LAST_PARAMETER and nodeid.endswith("]"):
                return f"{path}[{nodeid.rsplit('[', 1)[1]}"
            return path

    return FileOrParameterScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under pytest-xdist, a test marked ``exclusive`` runs with nothing else beside it: held
    around the whole protocol, so that the session and module fixtures other processes set up and
    tear down with their tests (a Ray head, a server's workers) wait too."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return (yield)
    lock_dir = item.config._tmp_path_factory.getbasetemp().parent  # type: ignore[attr-defined]
    with machine_share(lock_dir, exclusive=item.get_closest_marker("exclusive") is not None):
        return (yield)
