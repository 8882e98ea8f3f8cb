"""A film's soundtrack: probing a music file and muxing it, cut and faded to the film, as an AAC stream.

No Qt here, and PyAV is imported inside the functions (as in storymem_engine.video): importing this module
costs nothing for a tool that never touches sound.

The music is decoded from ``AudioTrack.start_s``, resampled to 48 kHz stereo float, scaled by ``gain_db``,
clipped, cut to the film's length and, when the song goes on past the film's end, faded out over the film's
last second. Audio is encoded while the video is (about a second behind it), so the MP4's media data comes
out interleaved, the way players stream it, instead of all the video followed by all the sound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from storymem_engine.story import MAX_GAIN_DB, MIN_GAIN_DB, Soundtrack  # the range a project may store

if TYPE_CHECKING:
    from storymem_engine.project import Project

AUDIO_CODEC = "aac"  # FFmpeg's native encoder: always built in, unlike libfdk_aac
AUDIO_RATE = 48000
AUDIO_LAYOUT = "stereo"
AUDIO_FORMAT = "fltp"
AUDIO_BIT_RATE = 192_000
FADE_S = 1.0

# How far the audio trails the video while the frames come in: the fade covers at most the film's last second,
# and the film's end is known only after its last frame, so the final second of sound waits for it.
_LAG_SAMPLES = int(FADE_S * AUDIO_RATE)
# A seek into the song aims this much before the start: see _decoded_from.
_PREROLL_S = 0.5


class SoundtrackError(Exception):
    """A soundtrack cannot be used; the message names the file and says what is wrong, on one line."""


@dataclass(frozen=True)
class AudioTrack:
    path: Path
    # Where in the music file the film's first frame falls: a film of selected shots starts later in the song.
    start_s: float = 0.0
    # Volume change in dB, MIN_GAIN_DB..MAX_GAIN_DB.
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        # A project file or a CLI hands over a str; everything downstream wants a Path.
        if not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    codec: str


# FFmpeg demuxers a music file may be read with (the mp4 family's demuxer is "mov"; webm's is "matroska").
MUSIC_FORMATS = "wav,w64,mp3,mov,aac,flac,ogg,matroska,aiff,caf"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _reason(exc: BaseException) -> str:
    """FFmpeg's reason without the errno and the path PyAV wraps around it."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _one_line(reason)


def _open_audio(path: Path) -> Any:
    """Open ``path`` for reading, as a container with an audio stream; SoundtrackError for anything else."""
    import av

    if not path.exists():
        raise SoundtrackError(f"soundtrack file not found: {path}")
    if not path.is_file():
        raise SoundtrackError(f"soundtrack {path} is not a file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SoundtrackError(f"soundtrack {path} cannot be read ({_reason(exc)})") from exc
    if size == 0:
        raise SoundtrackError(f"soundtrack {path} is empty (0 bytes)")
    try:
        # Tags in a broken encoding must not make a playable song unreadable. Only music containers: a playlist
        # (HLS, FFmpeg's concat list) in a shared project would otherwise pull other files, or URLs, into the film.
        container = av.open(str(path), mode="r", metadata_errors="replace",
                            options={"format_whitelist": MUSIC_FORMATS})
    except Exception as exc:  # noqa: BLE001 - whatever FFmpeg or PyAV trips on, the file is not usable sound
        raise SoundtrackError(
            f"soundtrack {path} is not an audio file PyAV/FFmpeg can read ({_reason(exc)})"
        ) from exc
    try:
        if not container.streams.audio:
            raise SoundtrackError(f"soundtrack {path} has no audio stream")
    except BaseException:
        container.close()
        raise
    return container


def _header_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def probe_audio(path: Path | str) -> AudioInfo:
    """Describe a soundtrack: duration, sample rate, channels and codec.

    Raises SoundtrackError (never another exception type, whatever bytes the file holds) for a missing or empty
    file, a file PyAV/FFmpeg cannot open or decode, one without an audio stream (a video-only MP4), or a
    stream whose length is unknown or zero.
    """
    source = Path(path)
    container = _open_audio(source)
    try:
        stream = container.streams.audio[0]
        try:
            context = stream.codec_context
            codec = context.name or ""
            sample_rate = int(context.sample_rate or 0)
            channels = int(context.layout.nb_channels) if context.layout is not None else 0
            duration = _header_duration(container, stream)
            # Decoding the first frame proves the stream is sound and not a header glued to junk (a text file
            # named .mp3 can open as an MP3 "stream" that has no frame at all). With no length in the header,
            # the samples are counted instead.
            counted = 0
            for frame in container.decode(stream):
                sample_rate = sample_rate or frame.sample_rate
                channels = channels or frame.layout.nb_channels
                counted += frame.samples
                if duration is not None:
                    break
        except SoundtrackError:
            raise
        except Exception as exc:  # noqa: BLE001 - damaged data surfaces as any of PyAV's error types
            raise SoundtrackError(f"soundtrack {source} cannot be decoded ({_reason(exc)})") from exc
    finally:
        try:
            container.close()
        except Exception:  # noqa: BLE001 - the probe's answer (or error) matters more than a failed close
            pass
    if counted == 0:
        raise SoundtrackError(f"soundtrack {source} has no sound PyAV/FFmpeg can decode")
    if sample_rate <= 0:
        raise SoundtrackError(f"soundtrack {source} has an audio stream with no sample rate")
    if duration is None:
        duration = counted / sample_rate
    if not math.isfinite(duration) or duration <= 0:
        raise SoundtrackError(f"soundtrack {source} has a length of 0 seconds")
    return AudioInfo(duration_s=duration, sample_rate=sample_rate, channels=channels, codec=codec)


def project_music(project: Project) -> tuple[Soundtrack, Path, AudioInfo] | None:
    """The project's soundtrack (File > Soundtrack), its file and what the file holds; None without one.
    SoundtrackError "<name> (<file as the project lists it>): <why>" when the file leaves the project, is gone, or
    holds no music: each writer of a film or a timeline puts its own words around it."""
    music = project.story.soundtrack
    if music is None:
        return None
    try:
        path = project.resolve(music.file)
        return music, path, probe_audio(path)
    except (ValueError, SoundtrackError) as exc:
        raise SoundtrackError(f"{music.name} ({music.file}): {exc}") from None


def check_track(track: AudioTrack) -> AudioInfo:
    """Probe ``track`` and check its start and gain against the music; SoundtrackError says what is wrong."""
    name = track.path
    if not math.isfinite(track.gain_db) or not MIN_GAIN_DB <= track.gain_db <= MAX_GAIN_DB:
        raise SoundtrackError(
            f"soundtrack {name}: a volume change of {track.gain_db} dB is outside {MIN_GAIN_DB:g}..{MAX_GAIN_DB:g} dB"
        )
    if not math.isfinite(track.start_s) or track.start_s < 0:
        raise SoundtrackError(f"soundtrack {name}: the start {track.start_s} s must be 0 or more")
    info = probe_audio(track.path)
    if track.start_s >= info.duration_s:
        raise SoundtrackError(
            f"soundtrack {name}: the soundtrack is {info.duration_s:.1f} s long; "
            f"the film would start it at {track.start_s:.1f} s"
        )
    return info


def _music_blocks(track: AudioTrack) -> Iterator[np.ndarray]:
    """The music from ``track.start_s`` on as float32 [2, n] blocks at AUDIO_RATE, gain applied and clipped.

    Raises SoundtrackError naming the file when the music stops decoding part way.
    """
    source = track.path
    gain = np.float32(10 ** (track.gain_db / 20))
    container = _open_audio(source)
    done = 0  # samples given, to say where a damaged file stops
    try:
        stream = container.streams.audio[0]
        try:
            for block in _decoded_from(container, stream, track.start_s):
                done += block.shape[1]
                yield np.clip(block * gain, -1.0, 1.0, out=block)
        except Exception as exc:  # noqa: BLE001 - damaged data surfaces as any of PyAV's error types
            at = track.start_s + done / AUDIO_RATE
            raise SoundtrackError(
                f"soundtrack {source} is damaged or cut off: it stops decoding at {at:.1f} s ({_reason(exc)})"
            ) from exc
    finally:
        container.close()


def _decoded_from(container: Any, stream: Any, start_s: float) -> Iterator[np.ndarray]:
    """Resampled blocks of ``stream`` from ``start_s`` seconds into the song on."""
    import av

    # Song time as a player shows it: relative to the stream's first timestamp (an MP3's or an M4A's is not 0).
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0

    # FFmpeg upmixes mono to stereo at -3 dB on each side; a mono song should be as loud in the film as in a
    # player, so it is resampled as mono and the channel copied to both sides (in _drop_and_yield).
    channels = stream.codec_context.layout.nb_channels if stream.codec_context.layout is not None else 0
    layout = "mono" if channels == 1 else AUDIO_LAYOUT

    def resampled(seek: bool) -> Iterator[np.ndarray]:
        if seek:
            # Seeks land at or before the target (backward); the exact cut is made on samples below. Aiming a
            # little early lets a decoder that needs earlier frames (MP3's bit reservoir, AAC's overlap) settle
            # before the first sample the film keeps.
            target = int((origin + max(0.0, start_s - _PREROLL_S)) / stream.time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
        resampler = av.AudioResampler(format=AUDIO_FORMAT, layout=layout, rate=AUDIO_RATE)
        # Output samples still to drop to reach start_s, worked out at the first decoded frame.
        skip: int | None = None
        for frame in container.decode(stream):
            if skip is None:
                if seek:
                    at = None if frame.time is None else frame.time - origin
                    if at is None or at > start_s + 1 / AUDIO_RATE:
                        # A seek that overshot, or frames without timestamps: start the song over from the top.
                        raise _SeekMissed
                    skip = round((start_s - at) * AUDIO_RATE)
                else:
                    # From the top, song time is the count of samples: no timestamps needed.
                    skip = round(start_s * AUDIO_RATE)
            for out in resampler.resample(frame):
                skip = yield from _drop_and_yield(out, skip)
        for out in resampler.resample(None):
            skip = yield from _drop_and_yield(out, skip or 0)

    if start_s > 0:
        try:
            yield from resampled(seek=True)
            return
        except _SeekMissed:
            container.seek(0)
    yield from resampled(seek=False)


class _SeekMissed(Exception):
    """The first frame after a seek is not at or before the wanted start."""


def _drop_and_yield(frame: Any, skip: int) -> Iterator[np.ndarray]:
    """Yield ``frame``'s samples after the first ``skip``; returns how many are still to drop."""
    array = frame.to_ndarray()
    if skip >= array.shape[1]:
        return skip - array.shape[1]
    block = np.array(array[:, skip:], dtype=np.float32, copy=True)
    if block.shape[0] == 1:
        block = np.repeat(block, 2, axis=0)
    if block.shape[1]:
        yield block
    return 0


def film_samples(frames: int, rate: Fraction) -> int:
    """The audio length, in samples at AUDIO_RATE, of a film of ``frames`` frames at ``rate`` fps."""
    return round(Fraction(frames) * AUDIO_RATE / rate)


class SoundtrackMuxer:
    """Encodes a soundtrack into an output container next to its video stream.

    ``advance(frames)`` after each video frame encodes the sound up to about a second behind it; ``finish(frames)``
    after the last one encodes the rest, cut to the film and faded, and flushes the encoder. ``check()`` is called
    between audio frames: the caller's cancel raises from it.
    """

    def __init__(self, container: Any, track: AudioTrack, rate: Fraction, check: Callable[[], None]) -> None:
        self._track = track
        self._rate = rate
        self._check = check
        stream = container.add_stream(AUDIO_CODEC, rate=AUDIO_RATE)
        stream.layout = AUDIO_LAYOUT
        stream.format = AUDIO_FORMAT
        stream.bit_rate = AUDIO_BIT_RATE
        self._container = container
        self._stream = stream
        self._music: Iterator[np.ndarray] | None = None
        self._pending = np.zeros((2, 0), dtype=np.float32)  # decoded, not yet encoded
        self._music_ended = False
        self._encoded = 0  # samples sent to the encoder
        self.samples_written = 0

    def _frame_size(self) -> int:
        # 0 until the container has opened the encoder (at the first mux); AAC frames are 1024 samples.
        return self._stream.codec_context.frame_size or 1024

    def _fill(self, upto: int) -> None:
        """Decode music until ``upto`` samples past the encoded ones are pending, or the music ends."""
        if self._music is None:
            self._music = _music_blocks(self._track)
        blocks = [self._pending]
        have = self._pending.shape[1]
        while have < upto and not self._music_ended:
            self._check()
            block = next(self._music, None)
            if block is None:
                self._music_ended = True
                break
            blocks.append(block)
            have += block.shape[1]
        if len(blocks) > 1:
            self._pending = np.concatenate(blocks, axis=1)

    def _encode(self, samples: np.ndarray) -> None:
        import av

        frame_size = self._frame_size()
        for begin in range(0, samples.shape[1], frame_size):
            self._check()
            chunk = np.ascontiguousarray(samples[:, begin:begin + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format=AUDIO_FORMAT, layout=AUDIO_LAYOUT)
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._encoded
            frame.time_base = Fraction(1, AUDIO_RATE)
            self._encoded += chunk.shape[1]
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def advance(self, video_frames: int) -> None:
        """Encode whole audio frames up to a second behind ``video_frames`` of film."""
        target = math.floor(Fraction(video_frames) * AUDIO_RATE / self._rate) - _LAG_SAMPLES
        frame_size = self._frame_size()
        due = (target - self._encoded) // frame_size * frame_size
        if due < frame_size or (self._music_ended and not self._pending.shape[1]):
            return
        self._fill(due)
        due = min(due, self._pending.shape[1] // frame_size * frame_size)
        if due <= 0:
            return
        self._encode(self._pending[:, :due])
        self._pending = self._pending[:, due:]

    def finish(self, video_frames: int) -> None:
        """Encode the rest of the sound for a film of ``video_frames`` frames, then flush the encoder."""
        total = film_samples(video_frames, self._rate)
        remaining = total - self._encoded
        if remaining > 0:
            # One sample more than needed tells whether the song goes on past the film's end.
            self._fill(remaining + 1)
            tail = np.array(self._pending[:, :remaining], copy=True)
            if self._pending.shape[1] > remaining:
                fade = min(round(FADE_S * AUDIO_RATE), total)
                if fade > 0:
                    # The fade spans the film's last `fade` samples, all still in `tail` thanks to the lag.
                    tail[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            self._pending = self._pending[:, :0]
            self._encode(tail)
        self.close()
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self.samples_written = self._encoded

    def close(self) -> None:
        """Close the music file; safe to call twice and on error paths."""
        if self._music is not None:
            close = getattr(self._music, "close", None)
            self._music = None
            if close is not None:
                close()
