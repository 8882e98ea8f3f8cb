"""A film's soundtrack: the music is in the MP4, cut to the film, faded, started where asked, as loud as asked,
and a soundtrack that cannot be used is a clear error that leaves the film already there alone."""

from __future__ import annotations

import io
import tempfile
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storymem_engine.soundtrack import AudioInfo, AudioTrack, SoundtrackError, probe_audio
from storymem_engine.video import (
    VideoCancelled,
    VideoError,
    concat_videos,
    probe_video,
    read_video,
    write_video,
)

FPS = 16
RATE = 48000
FRAMES = 40  # 2.5 s of film
FILM_SAMPLES = FRAMES * RATE // FPS
AAC_FRAME = 1024

PROPERTY = settings(max_examples=40, deadline=None)


def _frames(count: int = FRAMES, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 48, 64, 3), dtype=np.uint8)


def _wav_bytes(seconds: float, rate: int = 44100, channels: int = 1, silence_s: float = 0.0,
               amplitude: float = 0.5) -> bytes:
    """16-bit PCM WAV of a 440 Hz sine, after ``silence_s`` seconds of silence."""
    count = round(seconds * rate)
    tone = amplitude * np.sin(2 * np.pi * 440 * np.arange(count) / rate)
    tone[: round(silence_s * rate)] = 0.0
    samples = np.repeat((tone * 32767).astype("<i2")[:, None], channels, axis=1)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _wav(path: Path, seconds: float, **kwargs) -> Path:
    path.write_bytes(_wav_bytes(seconds, **kwargs))
    return path


def _adts_bytes(seconds: float) -> bytes:
    """An AAC file in ADTS framing (a raw .aac), which FFmpeg decodes frame by frame to the end of the file."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="adts") as out:
        stream = out.add_stream("aac", rate=RATE)
        stream.layout = "mono"
        stream.format = "fltp"
        count = round(seconds * RATE)
        tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(count) / RATE)).astype(np.float32)[None]
        for begin in range(0, count, AAC_FRAME):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, begin:begin + AAC_FRAME]),
                                               format="fltp", layout="mono")
            frame.sample_rate = RATE
            frame.pts = begin
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _film_audio(path: Path) -> tuple[np.ndarray, float]:
    """The film's sound as float [channels, samples], and the audio stream's duration in seconds."""
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1
        stream = container.streams.audio[0]
        duration = float(stream.duration * stream.time_base)
        sound = np.concatenate([frame.to_ndarray() for frame in container.decode(stream)], axis=1)
    return sound, duration


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_probe_describes_a_wav(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 2.0, rate=44100, channels=2)
    assert probe_audio(song) == AudioInfo(duration_s=2.0, sample_rate=44100, channels=2, codec="pcm_s16le")
    assert probe_audio(str(song)).duration_s == pytest.approx(2.0)


def test_film_with_soundtrack_has_h264_and_aac_of_the_films_length(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 5.0, channels=2)
    film = tmp_path / "film.mp4"
    assert write_video(film, _frames(), fps=FPS, audio=AudioTrack(song)) == FRAMES

    with av.open(str(film)) as container:
        kinds = [(s.type, s.codec_context.name) for s in container.streams]
        audio = container.streams.audio[0]
        assert (audio.codec_context.sample_rate, audio.codec_context.layout.name) == (RATE, "stereo")
    # The video stream comes first, the sound right after it: what players and editors expect.
    assert kinds == [("video", "h264"), ("audio", "aac")]

    sound, duration = _film_audio(film)
    assert duration == pytest.approx(FRAMES / FPS, abs=1 / RATE)
    # The decoder hands out whole 1024-sample AAC frames; the encoder's priming frame is trimmed by the MP4's
    # edit list, so the count is the film's length rounded up to a frame.
    assert FILM_SAMPLES <= sound.shape[1] < FILM_SAMPLES + 2 * AAC_FRAME
    assert _rms(sound[:, RATE // 2: RATE]) > 0.3  # a 0.5-amplitude sine: RMS 0.354

    info = probe_video(film)
    assert (info.codec, info.frames, info.faststart) == ("h264", FRAMES, True)
    assert read_video(film).shape == (FRAMES, 48, 64, 3)
    assert _leftovers(tmp_path) == []


def test_longer_music_fades_out_at_the_films_end(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 6.0)
    film = tmp_path / "film.mp4"
    write_video(film, _frames(), fps=FPS, audio=AudioTrack(song))
    sound, _ = _film_audio(film)
    sound = sound[:, :FILM_SAMPLES]
    middle = _rms(sound[:, RATE // 2: RATE // 2 + RATE // 10])
    last = _rms(sound[:, -RATE // 10:])
    half_way_into_fade = _rms(sound[:, FILM_SAMPLES - RATE // 2 - RATE // 20: FILM_SAMPLES - RATE // 2 + RATE // 20])
    assert middle > 0.3
    assert last < middle / 8
    assert half_way_into_fade == pytest.approx(middle / 2, rel=0.15)  # a linear fade over the last second


def test_shorter_music_ends_where_the_song_does(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 1.2)
    film = tmp_path / "film.mp4"
    assert write_video(film, _frames(), fps=FPS, audio=AudioTrack(song)) == FRAMES
    sound, duration = _film_audio(film)
    assert duration == pytest.approx(1.2, abs=1 / RATE)
    # No fade: the song's own last tenth of a second is still at full level.
    assert _rms(sound[:, round(1.1 * RATE): round(1.19 * RATE)]) > 0.3
    assert probe_video(film).frames == FRAMES
    assert read_video(film).shape[0] == FRAMES


def test_start_skips_into_the_music(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 4.0, silence_s=1.0)
    from_top = tmp_path / "top.mp4"
    from_second = tmp_path / "later.mp4"
    write_video(from_top, _frames(), fps=FPS, audio=AudioTrack(song))
    write_video(from_second, _frames(), fps=FPS, audio=AudioTrack(song, start_s=1.0))
    top, _ = _film_audio(from_top)
    later, duration = _film_audio(from_second)
    assert _rms(top[:, : RATE // 10]) < 0.01  # the song's silent first second
    assert _rms(later[:, : RATE // 10]) > 0.3  # the tone from the film's first frame
    # The tone begins within a few samples of the film's start (AAC's own ramp), not somewhere in the first frame.
    assert np.argmax(np.abs(later[0]) > 0.05) < 32
    assert duration == pytest.approx(FRAMES / FPS, abs=1 / RATE)


def test_gain_changes_the_loudness(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 4.0)
    plain = tmp_path / "plain.mp4"
    quieter = tmp_path / "quieter.mp4"
    write_video(plain, _frames(), fps=FPS, audio=AudioTrack(song))
    write_video(quieter, _frames(), fps=FPS, audio=AudioTrack(song, gain_db=-6.0))
    window = slice(RATE // 2, RATE)
    ratio = _rms(_film_audio(quieter)[0][:, window]) / _rms(_film_audio(plain)[0][:, window])
    assert ratio == pytest.approx(0.5, rel=0.1)


def test_mono_music_plays_on_both_channels(tmp_path: Path) -> None:
    song = _wav(tmp_path / "mono.wav", 4.0, channels=1)
    film = tmp_path / "film.mp4"
    write_video(film, _frames(), fps=FPS, audio=AudioTrack(song))
    sound, _ = _film_audio(film)
    left, right = sound[0, RATE // 2: RATE], sound[1, RATE // 2: RATE]
    assert sound.shape[0] == 2
    assert _rms(left) > 0.3 and _rms(right) > 0.3
    assert np.abs(left - right).max() < 0.01


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("clip.mp4", lambda p: write_video(p, _frames(4), fps=FPS), "no audio stream"),
        ("song.mp3", lambda p: p.write_text("these are the lyrics, not the song\n" * 40), "not an audio file"),
        ("empty.wav", lambda p: p.write_bytes(b""), "empty"),
        ("missing.wav", lambda p: None, "not found"),
    ],
    ids=["video-only mp4", "text named mp3", "empty file", "missing file"],
)
def test_unusable_soundtrack_is_a_clear_error_and_keeps_the_old_film(tmp_path: Path, name, make, reason) -> None:
    film = tmp_path / "film.mp4"
    write_video(film, _frames(4, seed=3), fps=FPS)
    before = film.read_bytes()
    music = tmp_path / "music"
    music.mkdir()
    make(music / name)
    asked: list[int] = []

    def source():
        asked.append(1)
        yield from _frames()

    with pytest.raises(VideoError, match=reason) as caught:
        write_video(film, source(), fps=FPS, audio=AudioTrack(music / name))
    assert name in str(caught.value) and "\n" not in str(caught.value)
    assert asked == []  # failed before a frame was asked of the renderer
    assert film.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_start_past_the_music_end_is_an_error(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 2.0)
    with pytest.raises(VideoError, match=r"song\.wav.*2\.0 s long.*start it at 3\.0 s"):
        write_video(tmp_path / "film.mp4", _frames(), fps=FPS, audio=AudioTrack(song, start_s=3.0))
    with pytest.raises(VideoError, match="dB"):
        write_video(tmp_path / "film.mp4", _frames(), fps=FPS, audio=AudioTrack(song, gain_db=40.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_music_cut_off_part_way_is_an_error_naming_it(tmp_path: Path) -> None:
    whole = _adts_bytes(3.0)
    song = tmp_path / "download.aac"
    song.write_bytes(whole[: len(whole) // 2])  # a download that stopped half way
    film = tmp_path / "film.mp4"
    write_video(film, _frames(4, seed=3), fps=FPS)
    before = film.read_bytes()
    with pytest.raises(VideoError, match=r"download\.aac.*cut off"):
        write_video(film, _frames(), fps=FPS, audio=AudioTrack(song))
    assert film.read_bytes() == before
    assert _leftovers(tmp_path) == []
    # A film shorter than the part that survived still gets it.
    write_video(film, _frames(16), fps=FPS, audio=AudioTrack(song))
    assert _film_audio(film)[1] == pytest.approx(1.0, abs=1 / RATE)


def test_cancel_while_the_sound_is_encoded(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", 5.0)
    film = tmp_path / "film.mp4"
    write_video(film, _frames(4, seed=3), fps=FPS)
    before = film.read_bytes()
    done: list[int] = []
    # Every frame is through before cancel says yes: the stop comes in the last second of sound.
    with pytest.raises(VideoCancelled):
        write_video(film, _frames(), fps=FPS, progress=done.append, cancel=lambda: len(done) >= FRAMES,
                    audio=AudioTrack(song))
    assert done[-1] == FRAMES
    assert film.read_bytes() == before
    assert not list(tmp_path.glob(".*.part.mp4"))


def test_concat_puts_the_music_under_the_joined_film(tmp_path: Path) -> None:
    clips = []
    for i, count in enumerate((16, 8)):
        clip = tmp_path / f"clip{i}.mp4"
        write_video(clip, _frames(count, seed=i), fps=FPS)
        clips.append(clip)
    song = _wav(tmp_path / "song.wav", 4.0, silence_s=0.5)
    film = tmp_path / "film.mp4"
    assert concat_videos(clips, film, fps=FPS, audio=AudioTrack(song, start_s=0.5)) == 24
    sound, duration = _film_audio(film)
    assert duration == pytest.approx(24 / FPS, abs=1 / RATE)
    assert _rms(sound[:, : RATE // 10]) > 0.3
    assert probe_video(film).frames == 24


# A few real files to cut and damage, so the property test reaches the decoders and not only the format probe.
_SEEDS = [_wav_bytes(0.3, rate=8000), _wav_bytes(0.2, rate=22050, channels=2), _adts_bytes(0.3)]


def _probe_bytes(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"music{suffix}"
        path.write_bytes(data)
        try:
            info = probe_audio(path)
        except SoundtrackError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
        else:
            assert info.duration_s > 0 and info.sample_rate > 0


@PROPERTY
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".wav", ".mp3", ".aac", ".m4a", ".bin"]))
def test_probe_of_any_bytes_is_an_answer_or_a_soundtrack_error(data: bytes, suffix: str) -> None:
    _probe_bytes(data, suffix)


@PROPERTY
@given(seed=st.sampled_from(range(len(_SEEDS))), cut=st.floats(0, 1),
       damage=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
def test_probe_of_a_cut_or_damaged_file_is_an_answer_or_a_soundtrack_error(seed: int, cut: float, damage) -> None:
    data = bytearray(_SEEDS[seed][: round(cut * len(_SEEDS[seed]))])
    for where, value in damage:
        if data:
            data[min(int(where * len(data)), len(data) - 1)] = value
    _probe_bytes(bytes(data), ".aac" if seed == 2 else ".wav")


def test_a_playlist_posing_as_music_is_refused_not_followed(tmp_path):
    """An HLS playlist in a shared project's music/ would pull other files (or URLs) into the film: only music
    containers are opened."""
    song = tmp_path / "private.wav"
    with wave.open(str(song), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(8000, dtype="<i2").tobytes())
    playlist = tmp_path / "song.mp3"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1,\n{song}\n#EXT-X-ENDLIST\n")
    with pytest.raises(SoundtrackError, match="song.mp3 is not an audio file"):
        probe_audio(playlist)
