"""render's progress: redrawn in place on a terminal, plain lines in a log (a Slurm job's stderr file)."""

import io

from storymem_engine.cli import ConsoleProgress
from storymem_engine.engine import Progress
from storymem_engine.project import Take

# One shot as the engine reports it: the phases of 4 steps, then a slow high-noise phase of a real model.
SHOT = [(0, "loading models", 1.3), (0, "encoding", 3.4), (1, "high-noise expert", 3.6),
        (2, "high-noise expert", 3.7), (3, "low-noise expert", 3.9), (4, "low-noise expert", 4.0),
        (4, "decoding", 4.5), (4, "keyframes", 5.1)]


def _run(live: bool, events, shots: int = 2) -> str:
    stream = io.StringIO()
    console = ConsoleProgress(shots, stream=stream, live=live)
    for step, phase, elapsed in events:
        console(Progress("s", step, 4, phase, elapsed))
    console.shot_done(0, Take(id="t", request={}, clip="takes/s/t/clip.mp4", frames=17), skipped=False)
    console.regenerating(1, "its prompt changed")
    return stream.getvalue()


def test_a_log_gets_a_line_per_phase_and_no_redraws():
    text = _run(False, SHOT)
    assert "\r" not in text
    lines = text.splitlines()
    assert [line.split()[3] for line in lines[:-2]] == ["loading", "encoding", "high-noise", "low-noise", "decoding",
                                                        "keyframes"]
    assert lines[2].startswith("shot 1/2   1/4 high-noise expert") and lines[2].endswith("ETA    11s")
    assert lines[-2:] == ["shot 1/2 done, 17 frames", "shot 2/2: generating again, its prompt changed"]


def test_a_long_phase_in_a_log_still_shows_the_job_is_alive_once_a_minute():
    slow = [(step, "high-noise expert", 12.0 * step) for step in range(1, 21)]  # 20 steps of 12 s: 240 s
    lines = [line for line in _run(False, slow).splitlines() if "high-noise" in line]
    assert [float(line.split()[5].rstrip("s")) for line in lines] == [12.0, 72.0, 132.0, 192.0]


def test_a_terminal_redraws_one_line_per_shot():
    text = _run(True, SHOT)
    assert text.count("\n") == 2 and text.count("\r") == len(SHOT) + 2
    assert "shot 1/2 [######                  ]   1/4 high-noise expert" in text


def test_a_log_hears_from_the_job_while_no_progress_comes(monkeypatch):
    """Models loading for minutes, one long step, the film being written: no event comes, the heartbeat writes
    the promised line (LOG_EVERY_S shortened here from a minute)."""
    import time

    monkeypatch.setattr(ConsoleProgress, "LOG_EVERY_S", 0.2)
    stream = io.StringIO()
    with ConsoleProgress(2, stream=stream, live=False) as console:
        console(Progress("s", 0, 4, "loading models", 0.1))
        time.sleep(0.6)
        console.doing("writing film.mp4")
        time.sleep(0.6)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("shot 1/2   0/4 loading models")
    assert lines[1].startswith("still shot 1/2: loading models (") and lines[1].endswith("s since the last line)")
    assert "writing film.mp4" in lines and lines[-1].startswith("still writing film.mp4 (")
    written = len(stream.getvalue())
    time.sleep(0.4)
    assert len(stream.getvalue()) == written  # the heartbeat ends with the render


def test_a_terminal_gets_no_heartbeat_lines(monkeypatch):
    import time

    monkeypatch.setattr(ConsoleProgress, "LOG_EVERY_S", 0.1)
    stream = io.StringIO()
    with ConsoleProgress(1, stream=stream, live=True) as console:
        console(Progress("s", 0, 4, "loading models", 0.1))
        time.sleep(0.4)
    assert "still" not in stream.getvalue()
