"""Classic (non-ML) engines built on FFmpeg through PyAV: scaling, filtering, re-encoding."""
