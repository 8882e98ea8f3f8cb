"""The Generate menu: queues shots on the worker thread and folds its results into the live story.

The worker generates on a snapshot of the saved project but never writes project.json: the UI
thread is its only writer, so a save made while a shot renders cannot be overwritten by the older
snapshot. Each take that comes back is recorded in the saved project.json (``record_take``, which
leaves the user's unsaved edits alone) and added to the live shot, accepted outside the undo stack:
the file on disk already holds it, so undoing it would leave the editor and the disk disagreeing.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QStandardPaths, QTimer

from storyboard import dialogs
from storyboard.memory import bank_frozen, is_stale
from storyboard.shot_numbers import shots_in_words
from storyboard.undo_commands import SetRenderSettingsCommand, removed_shot
from storyboard.worker import GenerationJob, WorkerThread
from storymem_engine.memory import take_of_key
from storymem_engine.project import TAKES_DIR, ProjectBusy, ProjectError, acquire_writer_lock, record_take
from storymem_engine.shot_modes import unmade_continued
from storymem_engine.story import Take
from storymem_engine.words import counted

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

LOG_FILE = "generation.log"
# Closing while a step runs waits for it (a real step can take a minute); this long at the most.
FORCE_CLOSE_MS = 120_000
READ_S = 6.0  # how long a message of the user's own action holds the status bar before progress takes it back


def log_folder() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "logs"


def log_failure(shot_id: str, message: str, details: str = "") -> Path:
    folder = log_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{datetime.now().isoformat(timespec='seconds')} shot {shot_id} failed:\n{message}\n")
        if details:
            log.write(details.rstrip() + "\n")
        log.write("\n")
    return path


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class GenerationController(QObject):
    # A QObject living on the UI thread, so the worker's signals arrive as queued calls on this thread.
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.worker: WorkerThread | None = None
        self.pending: list[str] = []  # shot ids queued or generating, in order
        self.failures: list[tuple[str, str]] = []
        self.job_project = None  # the Project object the running queue belongs to
        self.job_folder: Path | None = None  # where the worker writes its take files
        self.engine_reused = False  # the last queue found its engine's models already loaded
        self._lock = None  # the project's writer lock, held while a queue runs
        self._closing = False  # the window asked to close; it does once the running queue has stopped
        self._last_progress: tuple | None = None  # the newest progress event and when it came
        self._cancel_asked = False
        self._engine_name = ""  # the running queue's engine ("tiny", "wan")
        self._taken = 0
        self._orphans = 0  # takes made for shots deleted while queued (kept on the deleted shot, for its Undo)
        self._untrimmed: list[str] = []  # shots whose trimmed take a new one replaced (the trim stays on the old)
        self._progress_text = ""  # the progress line this controller last put in the status bar
        self._message_at = 0.0  # when another message (the user's action's) last took the status bar
        window.statusBar().messageChanged.connect(self._said)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    @property
    def busy(self) -> bool:
        # Until _queue_finished has run the queue still holds the project's writer lock: a Generate in between
        # would find its own project "busy".
        return (self.worker is not None and self.worker.busy) or self._lock is not None

    # ------------------------------------------------------------ menu actions
    def generate_shot(self) -> bool:
        rows = sorted({i.row() for i in self.window.timeline.selectionModel().selectedIndexes()})
        if not rows and self.window.current_row() is not None:
            rows = [self.window.current_row()]
        return self._start([self.window.model.shot_at(r).id for r in rows])

    def generate_from_here(self) -> bool:
        row = self.window.current_row()
        return self._start(self.window.model.shot_ids()[row or 0:])

    def generate_stale(self) -> bool:
        """Shots that are stale, failed, without a take or whose clip is missing, empty or cannot be decoded (a
        MISSING or DAMAGED card); later shots are redone as their memory changes, or as the engine finds a file of
        theirs that does not decode (director.why_regenerate)."""
        story = self.window.project.story
        s = self.window.render_settings()
        with bank_frozen(story):  # the bank checked once, not once per shot (quadratic in a long story)
            first = next((i for i, shot in enumerate(story.shots)
                          if shot.accepted() is None or self.window.model.clip_problem(shot.accepted())
                          or is_stale(story, i, s.memory_size, s.memory_sink, s.continuation)), None)
        if first is None:
            dialogs.info(self.window, "Nothing to generate", "Every shot has an accepted take that is up to date.")
            return False
        return self._start([shot.id for shot in story.shots[first:]], skip_current=True)

    def generate_all(self) -> bool:
        return self._start(self.window.model.shot_ids())

    def finalize(self) -> bool:
        """Make every shot whose accepted take is a draft again at the final profile with the draft's seed, in
        story order; the drafts stay as older takes."""
        from storymem_engine.request import is_draft

        story = self.window.project.story
        shots = [shot.id for shot in story.shots if is_draft(shot.accepted())]
        if not shots:
            dialogs.info(self.window, "No drafts to finalize", "No shot's accepted take is a draft.")
            return False
        # A shot set to Draft in the inspector, or a project whose Render settings say Draft, would go on saying
        # Draft, and the next Generate (Regenerate stale shots) make drafts again: finalizing sets them to Final, one
        # undo step.
        drafted = [shot.id for shot in story.shots if shot.id in shots and shot.profile == "draft"]
        render = self.window.render_settings()
        project_drafts = render.profile == "draft"
        stack = self.window.undo_stack
        if drafted or project_drafts:
            what = [shots_in_words([self.window.model.row_of(i) for i in drafted])] if drafted else []
            stack.beginMacro(f"Set {' and '.join([*what, 'the project'] if project_drafts else what)} to Final")
            if drafted:
                self.window.edits.edit_fields(drafted, "profile", "final", f"Set {what[0]} to Final")
            if project_drafts:
                stack.push(SetRenderSettingsCommand(self.window.project, replace(render, profile="final"),
                                                    self.window.render_settings_changed))
            stack.endMacro()
        if not self._start(shots, finalize=True):
            if drafted or project_drafts:
                stack.undo()  # nothing was finalized: the profiles stay as they were
            return False
        if project_drafts:
            bar = self.window.statusBar()
            bar.showMessage(f"{bar.currentMessage()} The project's Render settings are Final now, so later takes are "
                            "final too (Edit > Undo sets Draft again).")
        return True

    def unload_models(self) -> bool:
        """Free the memory the loaded models hold (they load again on the next Generate)."""
        if self.busy:
            dialogs.info(self.window, "Generation running", "Models can be unloaded once the generation stops.")
            return False
        if self.worker is None:
            self.window.statusBar().showMessage("No models are loaded.", 5000)
            return False
        self.worker.unload_requested.emit()
        return True

    def _unloaded(self, had: bool) -> None:
        self.window.statusBar().showMessage("Models unloaded." if had else "No models are loaded.", 5000)

    def cancel(self) -> None:
        if self.busy:
            self._cancel_asked = True
            self.worker.worker.cancel()
            self.window.statusBar().showMessage("Cancelling after the current step…")

    # ------------------------------------------------------------ starting
    def _start(self, shot_ids: list[str], skip_current: bool = False, finalize: bool = False) -> bool:
        if self.busy:
            dialogs.info(self.window, "Generation running", "Wait for the running generation or cancel it first.")
            return False
        if not shot_ids:
            return False
        shot_ids = self._with_unmade_continued(shot_ids)
        if shot_ids is None or not self._prompts_written(shot_ids):
            return False
        story = self.window.project.story
        # A memory made smaller than the pins (Render settings) would fail the shot after the models load.
        if not self.window.edits.pins_fit(story.memory_pins, story.memory_exclusions):
            return False
        if not self._marks_replaced_asked(shot_ids, skip_current):
            return False
        engine = self._engine_settings()
        if engine is None or not self._draft_can_run(engine, shot_ids, finalize) \
                or not self._gpus_available(shot_ids, finalize):
            return False
        # One writer per project: a CLI render into this folder and this queue must not interleave takes. Held
        # before the save below, which otherwise refused in its own words ("save again") what Generate had asked.
        # (A folder gone since it opened is not made again here: the save says it is gone.)
        folder = self.window.project_path
        if folder is not None and folder.is_dir() and not self._hold_writer(folder):
            return False
        if not self._ensure_saved():  # takes are written into the project: nothing may start unsaved
            self._release_lock()
            self.window.statusBar().showMessage("Generation not started: the project could not be saved first.",
                                                15_000)
            return False
        if not self.writes_into(self.window.project.folder) and not self._hold_writer(self.window.project.folder):
            return False
        render = self.window.generation_settings(engine["engine"])  # "use tiny" may have been answered just now
        # The tiny engine's own small defaults, or whatever the user set instead: said as they are.
        draft = f" ({render.width}x{render.height}, {render.frames} frames, {render.steps} steps)" \
            if engine["engine"] == "tiny" else ""
        if finalize:
            draft += ", finalizing drafts at the final profile"
        elif render.profile == "draft":
            draft += ", Draft profile (4 distilled steps)"
        director: dict[str, Any] = dict(
            render.director_fields(),
            save_project=False,  # this controller records takes (see the module docstring)
        )
        project = self.window.project
        s = self.window.settings
        if s.gpus_per_shot > 1:
            draft += f", each shot split across {s.gpus_per_shot} GPUs ({s.parallel_mode.capitalize()})"
            if s.shard_weights:  # sharded experts stay on the GPUs, whatever the project's offload preset says
                engine = dict(engine, shard_weights=True, offload="full_gpu")
                draft += " with their weights sharded (full_gpu)"
        job = GenerationJob(folder=str(project.folder), project=project.to_dict(), shot_ids=list(shot_ids),
                            engine=engine, director=director, skip_current=skip_current,
                            stop_on_failure=not s.continue_after_failure, finalize=finalize,
                            gpus=s.gpus_per_shot, parallel=s.parallel_mode)
        self.job_project, self.job_folder = project, Path(project.folder)
        if self.worker is None:
            self.worker = self._make_worker()
        self.pending = list(shot_ids)
        self.failures = []
        self._last_progress = None
        self._cancel_asked = False
        self._taken = self._orphans = 0
        self._untrimmed = []
        self._ticker.start()
        for shot_id in shot_ids:
            self.window.model.set_live_status(shot_id, "queued")
        self.update_actions(running=True)
        # Said with the queue, or the next message would replace it unread: where the takes go until Save As.
        kept = "; its takes stay in the app's data folder until File > Save As" if self.window.files.is_unsaved() \
            else ""
        self._engine_name = engine["engine"]
        self.window.statusBar().showMessage(
            f"Queued {counted(len(shot_ids), 'shot')} on the {engine['engine']} engine{draft}{kept}…")
        self.worker.submit(job)
        return True

    def _marks_replaced_asked(self, shot_ids: list[str], skip_current: bool) -> bool:
        """A shot made again gets a new accepted take: keyframes pinned or excluded from the take it has now then
        apply to nothing, and the shots after it remember without the pinned ones. Asked first (a Regenerate stale
        after an exclusion remade the pinned keyframe's shot and dropped the pin without a word)."""
        story = self.window.project.story
        # A cast image's key names no take: no generation replaces it.
        marked = {take_of_key(key) for key in [*story.memory_pins, *story.memory_exclusions]} - {None}
        if not marked:
            return True
        rows = {shot.id: row for row, shot in enumerate(story.shots)}
        hit = [rows[shot_id] for shot_id in shot_ids
               if (take := story.shots[rows[shot_id]].accepted()) is not None and take.id in marked]
        if skip_current:  # an up-to-date shot is left as it is by Regenerate stale
            stale = set(self.window.edits.stale_rows(hit))
            hit = [row for row in hit if row in stale or self.window.model.clip_problem(story.shots[row].accepted())]
        if not hit:
            return True
        taken = {story.shots[row].accepted().id for row in hit}
        pins = sum(1 for key in story.memory_pins if take_of_key(key) in taken)
        excluded = sum(1 for key in story.memory_exclusions if take_of_key(key) in taken)
        held = " and ".join(words for words in (counted(pins, "pinned keyframe") if pins else "",
                                                counted(excluded, "excluded keyframe") if excluded else "") if words)
        one = len(hit) == 1
        return dialogs.choose(
            self.window, "Pinned keyframes will be replaced",
            f"{shots_in_words(hit).capitalize()} will be made again. {'Its' if one else 'Their'} accepted "
            f"{'take holds' if one else 'takes hold'} {held} of the memory: once the new "
            f"{'take is' if one else 'takes are'} accepted, {'it applies' if pins + excluded == 1 else 'they apply'} "
            "to nothing, and the shots after remember without the pinned ones.\n\nAccepting the earlier take again "
            "(Takes list) brings them back.",
            [("generate", "Generate anyway")], cancel_label="Cancel") == "generate"

    def _with_unmade_continued(self, shot_ids: list[str]) -> list[str] | None:
        """The queue with the earlier shots its continuing shots need (asked first), in story order; None when the
        user declines. A shot continuing one that has no take would fail after the models load, saying only that."""
        story = self.window.project.story
        rows = {shot.id: row for row, shot in enumerate(story.shots)}
        queued = [rows[shot_id] for shot_id in shot_ids]
        needed = unmade_continued(story, queued, self.window.render_settings().continuation)
        if not needed:
            return shot_ids
        shot = next(iter(needed))
        extra = sorted({row for rows_before in needed.values() for row in rows_before})
        queue = sorted(set(queued) | set(extra))
        text = (f"Shot {shot + 1} continues shot {shot}, which has no take yet, so it cannot start. Generate "
                f"{shots_in_words(extra)} first, in the same queue ({len(queue)} shots)?\n\nOr make shot {shot + 1} a "
                f"scene cut (inspector) to start it fresh, without {'it' if len(extra) == 1 else 'them'}.")
        answer = dialogs.choose(self.window, "Earlier shots have no take", text,
                                [("generate", f"Generate {shots_in_words(queue)}")])
        return [story.shots[row].id for row in queue] if answer == "generate" else None

    def _prompts_written(self, shot_ids: list[str]) -> bool:
        """A shot with no prompt is made from nothing (minutes of GPU time for a noise-like scene): usually a shot
        added and not written yet. Ask before queueing one."""
        story = self.window.project.story
        queued = set(shot_ids)
        empty = [row for row, shot in enumerate(story.shots) if shot.id in queued and not shot.prompt.strip()]
        if not empty:
            return True
        which = shots_in_words(empty)
        verb, them = ("has", "it") if len(empty) == 1 else ("have", "them")
        text = (f"{which[0].upper()}{which[1:]} {verb} no prompt: the model would make {them} from nothing. Write the "
                "prompt in the inspector first, or generate anyway?")
        return dialogs.choose(self.window, "No prompt", text, [("generate", "Generate anyway")]) == "generate"

    def _engine_settings(self) -> dict[str, Any] | None:
        s = self.window.settings
        render = self.window.render_settings()
        engine = s.engine
        if engine == "wan" and not s.models_folder:
            engine = self._first_engine_choice()
            if engine == "settings":  # a models folder was just chosen: go on with it (asked again if incomplete)
                return self._engine_settings()
            if engine is None:
                return None
        elif engine == "wan":
            from storymem_engine.models import CLIP_FOLDER, missing_model_files, models_folder_problem

            clip = s.keyframe_similarity == "clip"
            problem = models_folder_problem(s.models_folder)
            missing = [] if problem else missing_model_files(s.models_folder, render.continuation, clip=clip)
            if problem or missing:
                listed = "\n".join(missing[:12]) + (f"\n… and {len(missing) - 12} more" if len(missing) > 12 else "")
                only_clip = all(m.startswith(CLIP_FOLDER + "/") for m in missing) and not problem
                clip_hint = ("Only the CLIP weights that pick keyframes are missing: download them, or choose "
                             "Settings > Keyframe similarity > Model-free HSV (takes then say so).\n\n"
                             if only_clip else "")
                what = problem or f"The Wan2.2 + StoryMem models are incomplete in “{s.models_folder}”:\n{listed}"
                answer = dialogs.choose(
                    self.window, "Models missing",
                    f"{what}\n\n{clip_hint}Settings > Check models shows the download commands. Or use the tiny "
                    "engine for now (random weights: it checks the install, its video is noise-like).",
                    [("settings", "Open Settings…"), ("tiny", "Use the tiny engine this time")])
                if answer == "settings":
                    return self._engine_settings() if self.window.open_settings() else None
                if answer != "tiny":
                    return None
                engine = "tiny"
        return dict(engine=engine, models_dir=(s.models_folder or None) if engine == "wan" else None,
                    continuation=render.continuation, offload=render.offload,
                    text_encoder_on_cpu=render.text_encoder_on_cpu,
                    keyframe_similarity=s.keyframe_similarity, vae_tiling=render.vae_tiling,
                    rope_stride=s.memory_rope_stride, attention_backend=s.attention_backend,
                    compile_blocks=s.compile_blocks)

    def _gpus_available(self, shot_ids: list[str], finalize: bool) -> bool:
        """GPUs per shot asks for GPUs this machine shows (a setting saved on another machine, or a card gone), and
        a split the project's settings allow."""
        import os

        from storymem_engine.multi_gpu import CPU_TEST_ENV, visible_gpu_count

        wanted = self.window.settings.gpus_per_shot
        sharded = wanted > 1 and self.window.settings.shard_weights
        if sharded and self._has_drafts(shot_ids, finalize):
            dialogs.error(self.window, "Draft cannot be sharded",
                          "Draft shots cannot run with the experts' weights sharded across the GPUs (the distilled "
                          "LoRA is added to the experts after they are sharded). Choose the Final profile in "
                          "Generate > Render settings (or on the shot), or turn off Shard the weights in Settings.")
            return False
        if wanted > 1 and not sharded and self.window.render_settings().offload == "sequential":
            dialogs.error(self.window, "Offload cannot be split",
                          f"GPUs per shot is {wanted}, and this project's offload preset is 'sequential', which "
                          "cannot be split across GPUs. Choose group_offload or model_offload in Generate > Render "
                          "settings, or set GPUs per shot to 1 in Settings.")
            return False
        found = visible_gpu_count()
        if wanted < 2 or found >= wanted or os.environ.get(CPU_TEST_ENV) == "1":
            return True
        # The Settings dialog already shows what fits (1 greyed out without a GPU): pressing OK there saves it.
        fix = ("open Settings > GPUs and press OK: it shows 1 there, and saves it" if found < 2 else
               f"set GPUs per shot to {found} in Settings > GPUs")
        dialogs.error(self.window, "Not enough GPUs",
                      f"Settings > GPUs per shot is {wanted}, and this machine has {found} NVIDIA "
                      f"GPU{'' if found == 1 else 's'} it may use: {fix}.")
        return False

    def _draft_can_run(self, engine: dict[str, Any], shot_ids: list[str], finalize: bool) -> bool:
        """A queue with draft shots needs the distilled LoRAs: say which are missing before anything loads."""
        if engine["engine"] == "tiny" or not self._has_drafts(shot_ids, finalize):
            return True
        reason = self.window.draft_unavailable()
        if reason:
            dialogs.error(self.window, "Draft not available",
                          f"Draft shots cannot be generated: {reason}.\n\nChoose the Final profile in Generate > "
                          "Render settings (or on the shot), or download the distilled LoRAs.")
            return False
        return True

    def _has_drafts(self, shot_ids: list[str], finalize: bool) -> bool:
        """Whether the queue makes draft takes (Finalize makes every shot at the final profile)."""
        if finalize:
            return False
        project_profile = self.window.render_settings().profile
        shots = {shot.id: shot for shot in self.window.project.story.shots}
        return any((shots[i].profile or project_profile) == "draft" for i in shot_ids if i in shots)

    def _first_engine_choice(self) -> str | None:
        """No models folder yet: one clear choice, remembered (Settings > Engine switches back later)."""
        answer = dialogs.choose(
            self.window, "No models yet",
            "StoryMem needs the Wan2.2 A14B + StoryMem models (about 120 GB, a CUDA GPU) and no models folder is "
            "set.\n\nThe tiny engine is a try-out: random-weight models at draft settings, a few seconds per shot, "
            "noise-like video. It shows the whole flow (takes, memory, export).\n\nYour choice is remembered: "
            "Settings > Engine switches to Wan2.2 once the models are downloaded.",
            [("tiny", "Use the tiny engine (try-out)"), ("models", "Set the models folder…")])
        if answer == "models":
            accepted = self.window.open_settings()
            s = self.window.settings  # OK replaced the settings object
            return "settings" if accepted and (s.models_folder or s.engine != "wan") else None
        if answer != "tiny":
            return None
        s = self.window.settings
        s.engine = "tiny"
        try:
            s.save()
        except Exception:  # noqa: BLE001 - preferences that cannot be written only mean asking again
            pass
        self.window.apply_settings()  # the dialog said it is remembered; the queue's message follows at once
        return "tiny"

    def _ensure_saved(self) -> bool:
        """Takes are written into the project folder: a never-saved project gets one in the app's data folder
        (Save As moves it later), so the first Generate asks nothing."""
        files = self.window.files
        if self.window.project_path is None:
            return files.place_unsaved()
        if files.is_unsaved():
            return files.write_unsaved()
        if files.is_modified():
            # The worker writes project.json from its snapshot: the snapshot must be what is saved.
            return files.save()
        return True

    def _make_worker(self) -> WorkerThread:
        worker = WorkerThread(self.window)
        w = worker.worker
        w.engine_ready.connect(self._engine_ready)
        w.started_shot.connect(self._started_shot)
        w.progress.connect(self._progress)
        w.take_ready.connect(self._take_ready)
        w.failed.connect(self._failed)
        w.cancelled.connect(self._done_with)
        w.skipped.connect(self._done_with)
        w.queue_finished.connect(self._queue_finished)
        w.unloaded.connect(self._unloaded)
        return worker

    # ------------------------------------------------------------ worker signals (UI thread)
    def _job_shown(self) -> bool:
        """Whether the window shows the project the queue renders (every imported story numbers its shots alike:
        shot-001 of another project is another shot)."""
        return self.window.project is self.job_project

    def _has(self, shot_id: str) -> bool:
        return self._job_shown() and shot_id in self.window.model.shot_ids()

    def _where(self, shot_id: str) -> str:
        """The shot as the user would name it now: on the timeline, deleted meanwhile, or in a project not shown."""
        if self._has(shot_id):
            return f"shot {self.window.model.row_of(shot_id) + 1}"
        if self._job_shown() or self.job_project is None:
            return "a deleted shot"
        return f"a shot of “{self.job_project.story.name or 'the project'}” (generating in the background)"

    def _engine_ready(self, label: str, reused: bool, preset_reason: str = "") -> None:
        self.engine_reused = reused
        self.preset_reason = preset_reason
        if not reused and not self._cancel_asked:  # a Cancel while it starts stays in view
            # The tiny engine loads nothing the offload presets are about: its reason would only puzzle.
            offload = f" Offload: {preset_reason}" if preset_reason and self._engine_name != "tiny" else ""
            self.window.statusBar().showMessage(f"Starting the engine: {label}; its models load with the first "
                                                f"shot…{offload}")

    def _started_shot(self, shot_id: str) -> None:
        # Also for a shot deleted meanwhile: an Undo brings it back as it is, generating.
        if self._job_shown():
            self.window.model.set_live_status(shot_id, "generating")

    def _progress(self, shot_id: str, step: int, total: int, phase: str, elapsed: float, eta: float) -> None:
        self._last_progress = (shot_id, step, total, phase, elapsed, eta, time.monotonic())
        self._show_progress(shot_id, step, total, phase, elapsed, eta)

    def _tick(self) -> None:
        """Once a second: loading models or a long step sends no events, but its elapsed time still grows."""
        if not self.busy or self._last_progress is None:
            return
        shot_id, step, total, phase, elapsed, eta, received = self._last_progress
        waited = time.monotonic() - received
        if waited >= 1.0:
            left = max(eta - waited, 0.0) if eta >= 0 else eta
            self._show_progress(shot_id, step, total, phase, elapsed + waited, left)

    def _show_progress(self, shot_id: str, step: int, total: int, phase: str, elapsed: float, eta: float) -> None:
        n = self.pending.index(shot_id) + 1 if shot_id in self.pending else 0
        eta_text = f" · ETA {_duration(eta)}" if eta >= 0 else ""
        where = self._where(shot_id)
        self._say_progress(f"{where[0].upper()}{where[1:]} ({n}/{len(self.pending)}): step {step}/{total} · "
                           f"{phase} · {_duration(elapsed)}{eta_text}")
        if self._has(shot_id):
            # Before the first step (loading models, encoding) the phase says more than "0/40".
            counter = f"{step}/{total}" if step else phase
            self.window.model.set_progress(shot_id, step / total if total else 0.0,
                                           f"{counter} · {_duration(elapsed)}{eta_text}")

    def _said(self, message: str) -> None:
        if message and message != self._progress_text:
            self._message_at = time.monotonic()

    def _say_progress(self, text: str) -> None:
        """Progress comes every step: a message the user's own action just put there (Deleted…, Saved…, Undone…)
        stays readable for READ_S first (the cards show the progress meanwhile)."""
        bar = self.window.statusBar()
        shown = bar.currentMessage()
        if shown and shown != self._progress_text and time.monotonic() - self._message_at < READ_S:
            return
        self._progress_text = text
        bar.showMessage(text)

    def _take_ready(self, shot_id: str, take_dict: dict) -> None:
        self._taken += 1
        take = Take.from_dict(take_dict)
        self._record_on_disk(shot_id, take)
        model = self.window.model
        if not self._job_shown():
            return  # another project is open: the take is in the saved file, its folder
        if not self._has(shot_id):
            # Deleted while queued or generating: the take goes with the deleted shot, so the Undo that brings the
            # shot back brings the take too (it was lost from the project: saved files no longer named it).
            shot = removed_shot(self.window.undo_stack, shot_id)
            model.set_live_status(shot_id, None)
            if shot is not None:
                if shot.take(take.id) is None:
                    shot.add_take(take)
                shot.accepted_take = take.id
                self._orphans += 1
            return
        self.window.files.saw_take(shot_id, take.id)
        shot = model.shot_at(model.row_of(shot_id))
        before = shot.accepted()
        if before is not None and (before.trim_in or before.trim_out) and not (take.trim_in or take.trim_out):
            self._untrimmed.append(shot_id)
        shot.add_take(take)
        model.set_live_status(shot_id, None)
        model.set_shot_field(shot_id, "accepted_take", take.id)
        self.window.files.invalidate_autosave()

    def _record_on_disk(self, shot_id: str, take: Take) -> None:
        """Add the take to the saved project.json (and to the new folder after a Save As meanwhile)."""
        folder = self.job_folder
        if folder is None:
            return
        try:
            record_take(folder, shot_id, take)
            moved = self.window.project_path
            if (self.window.project is self.job_project and moved is not None
                    and moved.resolve() != folder.resolve()):
                # Saved As elsewhere while the shot rendered: bring its files along, as Save As did for the rest.
                take_folder = Path(take.clip).parent if take.clip else Path(TAKES_DIR) / shot_id / take.id
                shutil.copytree(folder / take_folder, moved / take_folder, dirs_exist_ok=True)
                record_take(moved, shot_id, take)
        except (OSError, ProjectError) as exc:
            self.window.statusBar().showMessage(
                f"Could not record the new take in project.json ({exc}); save the project to keep it.", 15_000)

    def _failed(self, shot_id: str, message: str, details: str = "") -> None:
        self.failures.append((shot_id, message))
        path = log_failure(shot_id, message, details)
        where = self._where(shot_id)
        if self._job_shown():
            self.window.model.set_live_status(shot_id, "failed")
        dialogs.error(self.window, "Generation failed",
                      f"Generating {where} failed; earlier takes are kept.\n\n{message}\n\n(Logged to {path})")

    def _done_with(self, shot_id: str) -> None:
        # A deleted shot's too: its Undo must not bring back a card queued or generating for good.
        if self._job_shown() and self.window.model.in_queue(shot_id):
            self.window.model.set_live_status(shot_id, None)

    def writes_into(self, folder: Path) -> bool:
        """Whether a queue of this editor holds the writer lock of ``folder`` (its saves go on meanwhile)."""
        if self._lock is None:
            return False
        try:
            return Path(self._lock.lock_file).parent.resolve() == folder.resolve()
        except OSError:
            return False

    def _hold_writer(self, folder: Path) -> bool:
        """Take the project's writer lock for a queue; False, having said why, when a render holds it."""
        self._release_lock()
        try:
            self._lock = acquire_writer_lock(folder)
        except ProjectBusy:
            dialogs.error(self.window, "A render is writing this project",
                          f"{folder} is being written right now by a render (main.py render) or another window's "
                          "Generate: its takes and this queue's would write over each other.\n\nGenerate again "
                          "when it has finished. Nothing was started; your changes stay here.")
            return False
        except (ProjectError, OSError) as exc:
            dialogs.error(self.window, "Project busy", str(exc))
            return False
        return True

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _queue_finished(self) -> None:
        self._release_lock()
        self.window.files.queue_finished()
        for shot_id in self.pending:
            self._done_with(shot_id)
        self.pending = []
        self.update_actions(running=False)
        self._ticker.stop()
        took = time.monotonic() - self.worker.started_at if self.worker else 0.0
        kept = f"{self._taken} new take{'' if self._taken == 1 else 's'}"
        after = self._after_words() if self._taken > self._orphans and self._job_shown() else ""
        if self._orphans:
            after += (f"; {counted(self._orphans, 'take')} of shots deleted meanwhile: Edit > Undo brings "
                      f"{'that shot' if self._orphans == 1 else 'those shots'} back with "
                      f"{'its take' if self._orphans == 1 else 'their takes'}")
        # Shots dropped after a failure are "cancelled" too; only the user's Cancel makes the queue a cancelled one.
        if self._cancel_asked:
            message = f"Generation cancelled after {_duration(took)} ({kept} kept{after})"
        elif self.failures:
            failed = counted(len(self.failures), "shot")
            message = f"Generation stopped after {_duration(took)}: {failed} failed ({kept}{after})"
        else:
            message = f"Generation finished in {_duration(took)} ({kept}{after})"
        self.window.statusBar().showMessage(message, 15_000)

    def _after_words(self) -> str:
        """What the new takes changed beyond themselves: they were accepted, trims stayed on the takes they
        replaced, shots after them that are stale now (a regenerated shot 3 leaves shot 4 continuing its old end)."""
        model = self.window.model
        words = ", accepted" if self._taken - self._orphans == 1 else ", each accepted"
        untrimmed = sorted(model.row_of(i) for i in dict.fromkeys(self._untrimmed) if self._has(i))
        if untrimmed:
            one = len(untrimmed) == 1
            words += (f"; {shots_in_words(untrimmed)} {'plays' if one else 'play'} whole: the "
                      f"{'trim stays' if one else 'trims stay'} on the earlier {'take' if one else 'takes'}")
        stale = self.window.edits.stale_rows(range(model.rowCount()))
        if stale:
            words += (f"; {shots_in_words(stale)} {'is' if len(stale) == 1 else 'are'} stale now: Generate > "
                      "Regenerate stale shots")
        return words

    # ------------------------------------------------------------ menu state and closing
    def update_actions(self, running: bool | None = None) -> None:
        running = self.busy if running is None else running
        actions = self.window.actions_by_name
        for name in ("generate_shot", "generate_from_here", "generate_stale", "generate_all", "finalize_drafts",
                     "unload_models"):
            if name in actions:
                actions[name].setEnabled(not running)
        if "generate_cancel" in actions:
            actions["generate_cancel"].setEnabled(running)

    def maybe_stop(self) -> bool:
        """On close: True when no queue runs (the window stops the engine once closing is certain). While a queue
        runs, ask; on yes cancel it and close the window once the engine has stopped, keeping the UI responsive
        meanwhile (so this returns False for now). An engine that does not answer the cancel is ended by the
        worker (a few seconds without a heartbeat), and FORCE_CLOSE_MS after the request at the latest."""
        if not self.busy:
            return True
        if self._closing:
            return False
        # Named buttons: "Yes"/"No" to "cancel it and close?" read either way round.
        if dialogs.choose(self.window, "Generation running",
                          "A generation is running. Closing stops it after the current step (finished takes are "
                          "kept).", [("stop", "Stop generating and close")], cancel_label="Keep generating") != "stop":
            return False
        self._closing = True
        self.worker.worker.queue_finished.connect(self._close_after_stop)
        self.cancel()
        self.window.statusBar().showMessage("Cancelling the generation: the window closes when the engine has "
                                            "stopped…")
        QTimer.singleShot(FORCE_CLOSE_MS, self._force_stop)
        return False

    def _close_after_stop(self) -> None:
        if self._closing:
            self._closing = False
            QTimer.singleShot(0, self.window.close)

    def _force_stop(self) -> None:
        if self._closing and self.worker is not None:
            self.worker.worker.engine.kill()  # the relay then sees it gone and finishes the queue

    def stop(self) -> None:
        self._ticker.stop()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self._release_lock()

