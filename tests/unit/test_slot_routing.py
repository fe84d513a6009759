"""Which slot runs what: classic-engine tasks on classic (CPU) slots, neural-model tasks on neural
(GPU) slots, and local neural workers pinned one GPU each."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from support import Api, Server, stand_in_gpu_probe
from taxiway.context import AppContext
from taxiway.core.settings import Settings
from taxiway.engines import devices
from taxiway.executors.base import SlotKind, SlotPool, work_for
from taxiway.executors.local.supervisor import LocalExecutor
from taxiway.scheduler.claims import Work, claim_next
from taxiway.scheduler.loop import Scheduler
from taxiway.worker.contract import ClaimedTask

CLASSIC, NEURAL = SlotKind.CLASSIC, SlotKind.NEURAL


@pytest.mark.parametrize(
    ("kind", "pool", "claims"),
    [
        (CLASSIC, {CLASSIC, NEURAL}, (Work.CLASSIC,)),
        (NEURAL, {CLASSIC, NEURAL}, (Work.NEURAL,)),
        (CLASSIC, {CLASSIC}, (Work.ANY,)),  # no GPU slots: neural models run on the CPU slots
        (NEURAL, {NEURAL}, (Work.NEURAL, Work.CLASSIC)),  # GPU slots only: classic work too, after
    ],
)
def test_what_each_kind_of_slot_claims(kind: SlotKind, pool: set[SlotKind], claims: tuple[Work, ...]) -> None:
    assert work_for(kind, pool) == claims


def test_a_pool_that_leaves_neural_tasks_to_others_claims_classic_ones_only() -> None:
    assert work_for(CLASSIC, {CLASSIC}, run_neural=False) == (Work.CLASSIC,)
    assert work_for(CLASSIC, {CLASSIC, NEURAL}, run_neural=False) == (Work.CLASSIC,)


@pytest.fixture
def sr_server(make_server: Callable[..., Server], tmp_path: Path) -> Server:
    """Runs no work; one spandrel model (never loaded here) besides the classic engines."""
    checkpoint = tmp_path / "sr.pth"
    checkpoint.write_bytes(b"weights")
    return make_server(
        workers=0, neural_device="cpu", models={"sr": {"engine": "spandrel", "path": str(checkpoint)}}
    )


def _upscale(api: Api, asset: str, model: str) -> str:
    response = api.create("gen3alpha/upscale", {"assetId": asset, "model": model})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _queue(server: Server, clip: Path, models: list[str]) -> list[str]:
    api = server.new_user()
    api.create_account(max_jobs=10)
    asset = api.upload(clip, "video/mp4")["assetId"]
    return [_upscale(api, asset, model) for model in models]


def test_claims_take_only_their_kind_of_work(sr_server: Server, clip: Path) -> None:
    # The account's oldest task is neural: classic claims must not stall behind it.
    neural, classic1, classic2 = _queue(sr_server, clip, ["sr", "classic", "classic"])
    ctx = sr_server.ctx
    claimed = [claim_next(ctx, "test", Work.CLASSIC) for _ in range(3)]
    assert [job.task_id if job else None for job in claimed] == [classic1, classic2, None]
    job = claim_next(ctx, "test", Work.NEURAL)
    assert job is not None and job.task_id == neural and job.params["model"] == "sr"
    assert claim_next(ctx, "test", Work.NEURAL) is None


@dataclasses.dataclass
class FakeSlot:
    """A slot that records what the scheduler hands it and runs nothing."""

    kind: SlotKind
    busy: bool = False
    jobs: list[ClaimedTask] = dataclasses.field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not self.busy and not self.jobs

    def submit(self, job: ClaimedTask) -> bool:
        self.jobs.append(job)
        return True

    def in_flight(self) -> tuple[str, int] | None:
        return (self.jobs[0].task_id, self.jobs[0].attempt) if self.jobs else None


def _tick(
    ctx: AppContext, kinds: list[SlotKind], busy: tuple[SlotKind, ...] = (), *, run_neural: bool = True
) -> list[list[str]]:
    """One scheduler pass over idle slots of `kinds` (and busy ones of `busy`): what each idle one got."""
    slots = [FakeSlot(kind) for kind in kinds]
    pool = slots + [FakeSlot(kind, busy=True) for kind in busy]
    Scheduler(ctx, SlotPool(pool, run_neural=run_neural))._claim()  # type: ignore[arg-type]
    return [[job.task_id for job in slot.jobs] for slot in slots]


def test_a_gpu_slot_takes_the_neural_task_a_cpu_slot_the_classic(sr_server: Server, clip: Path) -> None:
    classic, neural = _queue(sr_server, clip, ["classic", "sr"])
    # The classic task is older and the neural slot comes first: it still waits for its own kind.
    assert _tick(sr_server.ctx, [NEURAL, CLASSIC]) == [[neural], [classic]]


def test_a_busy_kind_does_not_spill_onto_the_other(sr_server: Server, clip: Path) -> None:
    classic1, classic2, neural1, neural2 = _queue(sr_server, clip, ["classic", "classic", "sr", "sr"])
    assert _tick(sr_server.ctx, [CLASSIC, NEURAL]) == [[classic1], [neural1]]
    # The CPU slot is busy: classic2 waits for it rather than take an idle GPU slot.
    assert _tick(sr_server.ctx, [NEURAL, NEURAL], busy=(CLASSIC,)) == [[neural2], []]
    assert _tick(sr_server.ctx, [CLASSIC]) == [[classic2]]


def test_a_pool_without_gpu_slots_runs_neural_tasks_in_age_order(sr_server: Server, clip: Path) -> None:
    neural, classic = _queue(sr_server, clip, ["sr", "classic"])
    assert _tick(sr_server.ctx, [CLASSIC, CLASSIC]) == [[neural], [classic]]


def test_a_cpu_pool_told_not_to_run_neural_tasks_leaves_them_queued(sr_server: Server, clip: Path) -> None:
    neural, classic = _queue(sr_server, clip, ["sr", "classic"])
    assert _tick(sr_server.ctx, [CLASSIC, CLASSIC], run_neural=False) == [[classic], []]
    assert _tick(sr_server.ctx, [NEURAL]) == [[neural]]  # a GPU dispatcher's slot takes it


def test_a_pool_of_gpu_slots_only_runs_neural_tasks_first(sr_server: Server, clip: Path) -> None:
    classic, neural = _queue(sr_server, clip, ["classic", "sr"])
    assert _tick(sr_server.ctx, [NEURAL, NEURAL]) == [[neural], [classic]]


# Local neural workers ---------------------------------------------------------------------------


def _executor(ctx: AppContext, **settings: object) -> LocalExecutor:
    """The slots `taxiway serve` would start with these settings (not started: no processes)."""
    changed = dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=settings))
    return LocalExecutor.from_settings(changed)


def _slots(executor: LocalExecutor) -> list[tuple[str, str | None]]:
    return [(slot.kind.value, slot.gpu) for slot in executor.slots]


MODELS = {"sr": {"engine": "spandrel", "path": "sr.pth"}}


def test_one_neural_worker_per_gpu_each_pinned_to_its_own(
    idle_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    stand_in_gpu_probe(monkeypatch, 2)
    executor = _executor(idle_server.ctx, workers=2, models=MODELS, neural_device="auto")
    assert _slots(executor) == [("classic", None), ("classic", None), ("neural", "0"), ("neural", "1")]
    assert executor.describe() == "2 classic + 2 neural (GPU 0, 1) worker slot(s)"
    # More neural workers than GPUs share them round robin.
    executor = _executor(idle_server.ctx, workers=1, models=MODELS, neural_workers=3)
    assert _slots(executor)[1:] == [("neural", "0"), ("neural", "1"), ("neural", "0")]


def test_pins_keep_the_operators_cuda_visible_devices(
    idle_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    stand_in_gpu_probe(monkeypatch, 2)  # torch counts only the listed ones
    executor = _executor(idle_server.ctx, workers=1, models=MODELS)
    assert _slots(executor) == [("classic", None), ("neural", "4"), ("neural", "6")]


@pytest.mark.parametrize(
    ("settings", "neural"),
    [
        ({"models": MODELS, "neural_device": "auto"}, [None]),  # no GPU: one neural worker, on the CPU
        ({"models": MODELS, "neural_device": "cpu"}, [None]),
        ({"models": {}}, []),  # nothing neural to run
        ({"models": MODELS, "workers": 0}, []),  # workers = 0: this server runs no work
        ({"models": MODELS, "workers": 0, "neural_workers": 1}, [None]),  # ... unless asked to
        ({"models": MODELS, "neural_workers": 0}, []),  # neural tasks then share the classic workers
        ({"models": MODELS, "run_neural": False}, []),  # left to other dispatchers
    ],
)
def test_neural_worker_defaults_without_a_gpu(
    idle_server: Server, monkeypatch: pytest.MonkeyPatch, settings: dict[str, object], neural: list[None]
) -> None:
    stand_in_gpu_probe(monkeypatch, 0)
    executor = _executor(idle_server.ctx, **{"workers": 1} | settings)
    assert [gpu for kind, gpu in _slots(executor) if kind == "neural"] == neural


def test_neural_device_cpu_never_probes(idle_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "DEVICE_PROBE", "raise SystemExit('the probe ran')")
    executor = _executor(idle_server.ctx, workers=1, models=MODELS, neural_device="cpu")
    assert _slots(executor) == [("classic", None), ("neural", None)]


def test_a_server_that_leaves_neural_tasks_to_others(
    idle_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "DEVICE_PROBE", "raise SystemExit('the probe ran')")
    executor = _executor(idle_server.ctx, workers=2, models=MODELS, run_neural=False)
    assert _slots(executor) == [("classic", None), ("classic", None)]
    assert executor.describe().endswith("worker slot(s), neural tasks left to other dispatchers")
    assert executor.work_for(executor.slots[0]) == (Work.CLASSIC,)
    # The GPUs are elsewhere: configured models stay the defaults, and nothing here is probed.
    settings = idle_server.ctx.settings.model_copy(update={"models": MODELS, "run_neural": False})
    assert devices.Devices(settings).neural_by_default()
    with pytest.raises(ValueError, match="neural_workers is set but run_neural is false"):
        Settings(neural_workers=1, run_neural=False)
