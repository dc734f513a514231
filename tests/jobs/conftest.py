import pytest

from bulkyard.jobs import dispatch


@pytest.fixture
def sent(monkeypatch):
    """The wake-ups the engine sends, instead of sending them: by queue, or
    ``"steps"`` and ``"callbacks"`` for the control queue's."""
    record: dict[str, list[float]] = {}

    def chunks(queue, count=1, *, countdown=0):
        record.setdefault(queue, []).extend([countdown] * count)

    def steps(count=1):
        record.setdefault("steps", []).extend([0] * count)

    def callbacks(count=1):
        record.setdefault("callbacks", []).extend([0] * count)

    monkeypatch.setattr(dispatch, "wake_chunk_workers", chunks)
    monkeypatch.setattr(dispatch, "wake_step_worker", steps)
    monkeypatch.setattr(dispatch, "wake_callback_worker", callbacks)
    return record
