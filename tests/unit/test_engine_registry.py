"""Every operation has an engine; an operation without one fails with a clear, refundable error."""

from __future__ import annotations

import pytest

from taxiway.core.settings import Settings
from taxiway.engines.base import EngineError
from taxiway.engines.registry import ENGINES, build_engine, engine_name
from taxiway.tasks.operations import OPERATIONS


def test_every_operation_has_a_named_engine() -> None:
    for op in OPERATIONS.values():
        assert engine_name(op.engine_operation, Settings()) is not None, op.path
        assert engine_name(op.engine_operation, Settings()).startswith("classic-")


def test_engines_build_and_carry_their_names() -> None:
    for operation, spec in ENGINES.items():
        engine = build_engine(operation, Settings())
        assert engine.name == spec.name


def test_unknown_operation_fails_clearly() -> None:
    with pytest.raises(EngineError) as failure:
        build_engine("teleport", Settings())
    assert failure.value.reason == "ENGINE_UNAVAILABLE"
    assert str(failure.value).startswith("No engine is available for the teleport operation")
