"""The shot fields the inspector edits, in the user's words, and which of them one edit sets on every selected
shot (the prompt and the notes are each shot's own writing: they only ever change the shot shown)."""

from __future__ import annotations

# Field -> its name in the inspector, for undo texts and the multi-selection note. Settings only: an edit of one
# of these with several shots selected sets it on all of them.
SHARED_FIELDS = {
    "cut": "scene cut", "mode": "continuation", "scene_num": "scene", "seed": "seed", "seed_locked": "seed lock",
    "frames": "frames", "steps": "steps", "guidance": "guidance", "profile": "profile",
    "duration_s": "animatic length", "shot_size": "shot size", "camera_move": "camera move",
}
_OTHER_WORDS = {"prompt": "prompt", "notes": "notes", "accepted_take": "accepted take"}


def field_words(name: str) -> str:
    return SHARED_FIELDS.get(name) or _OTHER_WORDS.get(name) or name.replace("_", " ")


def first_words(prompt: str, limit: int = 24) -> str:
    """A prompt's first ``limit`` words, "…" after them when it goes on: how a card or a message quotes a shot."""
    words = prompt.split()
    text = " ".join(words[:limit])
    return text + (" …" if len(words) > limit else "") if text else "(empty prompt)"
