"""Helpers shared by the UI tests (real clips and keyframes inside a project folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor, QImage


def show_active(win, qtbot=None) -> None:
    """Show the window and make it the active one: a key press reaches the menus' shortcuts only then."""
    from PySide6.QtTest import QTest

    win.show()
    win.activateWindow()
    assert QTest.qWaitForWindowActive(win)


def prompts(win) -> list[str]:
    return [s.prompt for s in win.project.story.shots]


def ids(win) -> list[str]:
    return [s.id for s in win.project.story.shots]


def statuses(win) -> list[str]:
    """Every card's status badge, as the user reads them left to right (what the card paints)."""
    from storyboard.timeline_model import ShotRole

    m = win.model
    return [m.index(i).data(ShotRole.STATUS) for i in range(m.rowCount())]


def write_clip(path: Path, frames: int, width: int = 64, height: int = 48, shade: int = 0) -> None:
    from storymem_engine.video import write_video

    ramp = np.linspace(0, 255, frames, dtype=np.uint8)
    data = np.zeros((frames, height, width, 3), dtype=np.uint8)
    data[..., 0] = ramp[:, None, None]
    data[..., 1] = shade
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, data, fps=16)


def add_take(project, shot_index: int, frames: int = 9, keyframes: int = 2, width: int = 64,
             height: int = 48) -> None:
    """Give a shot a real accepted take: an H.264 clip and keyframe PNGs inside the project."""
    from storymem_engine.story import Take

    shot = project.story.shots[shot_index]
    take_id = f"take{shot_index}"
    folder = project.folder / "takes" / shot.id / take_id
    write_clip(folder / "clip.mp4", frames, width, height, shade=40 * shot_index % 255)
    rels = []
    for n in range(keyframes):
        image = QImage(width, height, QImage.Format.Format_RGB888)
        image.fill(QColor.fromHsv((shot_index * 50 + n * 20) % 360, 200, 200))
        image.save(str(folder / f"keyframe_{n}.png"))
        rels.append(f"takes/{shot.id}/{take_id}/keyframe_{n}.png")
    shot.add_take(Take(id=take_id, request={"mode": "m2v", "memory_keys": []},
                           clip=f"takes/{shot.id}/{take_id}/clip.mp4", keyframes=rels, frames=frames))
    shot.accepted_take = take_id


def set_render(win, **changes) -> None:
    """Change the open project's render settings (what Generate > Render settings does, without the undo step)."""
    from dataclasses import replace

    win.project.settings = replace(win.render_settings(), **changes)
    win.apply_settings()


def a_take_shown(window, qtbot, tmp_path, recorded_dialogs, frames: int = 12):
    """The sample story saved in tmp_path, shot 1 with a real take of ``frames`` frames, selected and decoded in
    the preview; returns the preview's player."""
    recorded_dialogs.paths.append(str(tmp_path / "take.storymem"))
    assert window.files.save_as()
    add_take(window.project, 0, frames=frames)
    window.set_project(window.project, window.project_path)
    window.edits.select_shots([window.project.story.shots[0].id])
    player = window.preview.player
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=15_000)
    return player


def write_music(path: Path, seconds: float, rate: int = 44100, ramp: bool = False) -> Path:
    """A 16-bit mono WAV of a 440 Hz tone (stdlib wave); ``ramp``: its loudness grows from 0 to full over the file,
    so how loud a film's first moment is says where in the music it starts."""
    import wave

    t = np.arange(int(seconds * rate)) / rate
    level = t / seconds if ramp else np.full_like(t, 0.5)
    samples = (level * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def film_audio(path: Path) -> np.ndarray:
    """The film's soundtrack decoded back: float samples of its first channel (empty without an audio stream)."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])
