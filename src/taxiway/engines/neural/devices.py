"""What every neural engine shares: where it runs, and the errors of loading and running a model."""

from __future__ import annotations

from taxiway.engines.base import EngineError

REASON_MODEL = "MODEL_UNUSABLE"
REASON_MEMORY = "OUT_OF_MEMORY"


class ModelLoadError(EngineError):
    """The configured checkpoint is missing, unreadable or not a model this engine can run."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason=REASON_MODEL)


def pick_device(setting: str) -> str:
    """ "auto" → "cuda" when torch sees a GPU, else "cpu"; "cuda" without a GPU is an error."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("neural_device is 'cuda' but torch sees no CUDA device on this worker.")
    return setting


def out_of_memory(what: str, advice: str) -> EngineError:
    return EngineError(f"The GPU ran out of memory {what}: {advice}.", reason=REASON_MEMORY)
