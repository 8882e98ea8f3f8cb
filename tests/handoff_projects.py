"""Project folders for the hand-off export tests: real H.264 clips and keyframe PNGs, no Qt, no models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from storymem_engine.project import Project
from storymem_engine.story import Shot, Story, Take

PROMPTS = ("Wide shot of a lighthouse at dusk, gulls circling the lamp room.",
           "Mara climbs the spiral stairs — «à bientôt», she whispers 🌊 to the 灯台 keeper.",
           "Close-up of her hands mending the torn kite; the sail is blue.",
           "The kite rises over the gallery rail into a pink dawn sky.")


def write_clip(path: Path, frames: int, shade: int = 0, width: int = 64, height: int = 48) -> None:
    from storymem_engine.video import write_video

    data = np.zeros((frames, height, width, 3), dtype=np.uint8)
    data[..., 0] = np.linspace(0, 255, frames, dtype=np.uint8)[:, None, None]
    data[..., 1] = shade
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, data, fps=16)


def add_take(project: Project, index: int, frames: int, take_number: int = 1, clip: str | None = None,
             profile: str | None = None) -> Take:
    """Give shot ``index`` a take (its ``take_number``-th) and accept it; ``clip`` reuses an existing clip."""
    shot = project.story.shots[index]
    take_id = f"take{take_number}"
    folder = project.folder / "takes" / shot.id / take_id
    if clip is None:
        clip = f"takes/{shot.id}/{take_id}/clip.mp4"
        write_clip(project.folder / clip, frames, shade=(40 * index) % 255)
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), ((60 * index) % 255, 120, 200)).save(folder / "keyframe_0.png")
    keyframe = f"takes/{shot.id}/{take_id}/keyframe_0.png"
    request = {"seed": 1000 + index, "mode": "m2v" if index else "t2v", "lora_variant": "mi2v", "width": 64,
               "height": 48, "frames": frames, "steps": 2, "guidance": 3.5,
               "memory": ["takes/shot-0001/take1/keyframe_0.png"] if index else [],
               "memory_keys": ["shot-0001/take1/0"] if index else []}
    if profile is not None:  # takes made before quality profiles existed carry none
        request["profile"] = profile
    take = Take(id=take_id, request=request, clip=clip, keyframes=[keyframe] if (project.folder / keyframe).is_file()
                else [], frames=frames, engine="tiny (test)")
    shot.add_take(take)
    shot.accepted_take = take_id
    return take


def make_project(folder: Path, shots: int = 6, name: str = "Kite «Story»") -> Project:
    """A saved project: scenes of 3 shots (each scene opens with a cut), unicode prompts, 0.5 s cards."""
    story = Story(name=name, overview="A keeper mends a kite. " * 3, shots=[
        Shot(id=f"shot-{i + 1:04d}", prompt=PROMPTS[i % len(PROMPTS)], cut=i % 3 == 0, scene_num=1 + i // 3,
             duration_s=0.5, notes="Bring the rig.\nCheck wind." if i == 1 else "",
             shot_size="wide" if i % 2 == 0 else "close-up", camera_move="dolly in" if i == 0 else "")
        for i in range(shots)])
    project = Project(folder=folder, story=story)
    project.save()
    return project
