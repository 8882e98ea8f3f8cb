"""The app's settings file is a file it reads: whatever a user, a sync tool or another version left in it, the
window opens, the preferences are usable values and every remembered choice is offered again or forgotten."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings

from storyboard import window_geometry
from storyboard.app_settings import ENGINES, AppSettings
from storyboard.export_options import PdfOptionsDialog, TimelineOptionsDialog
from storyboard.main_window import MainWindow
from storyboard.menus import fill_recent_menu
from storyboard.recent import add_recent, recent_projects
from storyboard.settings_dialog import check_models_folder
from storymem_engine.models import OFFLOAD_CHOICES

# What an ini file can hold that reads back as something else than the text the app wrote: lists, Qt types,
# byte arrays that are not a saved geometry, numbers out of range, nothing at all.
INI_VALUES = st.one_of(
    st.sampled_from(["", "a, b", "@ByteArray(xyz)", "@ByteArray()", "@Invalid()", "@Rect(1 2 3 4)", "@Size(1 2)",
                     "@Point(5 5)", "@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18)", "nan", "-inf", "-1", "1e400", "true",
                     "99999999999999999999", "\"unclosed", "832x", "x480", "0x0", "/tmp/" + "a" * 5000, "a\\0b"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20),
)


def _every_key_the_app_writes(window: MainWindow, tmp_path: Path) -> list[str]:
    """A session that touches every remembered thing, so the keys come from the app, not from this test."""
    AppSettings().save()
    add_recent(str(tmp_path / "a.storymem"))
    window_geometry.restore(window)
    window_geometry.save(window)
    window.remember_folder(tmp_path)
    TimelineOptionsDialog("otio").remember()
    PdfOptionsDialog().remember()
    store = QSettings()
    store.sync()
    return store.allKeys()


def _ini_with(path: Path, keys: list[str], values: list[str]) -> None:
    sections: dict[str, list[str]] = {}
    for key, value in zip(keys, values, strict=True):
        section, _, name = key.partition("/")
        sections.setdefault(section, []).append(f"{name}={value}")
    path.write_text("".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items()), "utf-8")


def test_any_settings_file_opens_the_window_with_usable_preferences(qtbot, tmp_path):
    first = MainWindow(AppSettings())
    qtbot.addWidget(first)
    keys = _every_key_the_app_writes(first, tmp_path)
    assert {"settings/engine", "recent/projects", "window/geometry", "paths/last_folder",
            "export/pdf_page"} <= set(keys)
    assert any(k.startswith("window/splitters/") for k in keys)
    ini = Path(QSettings().fileName())

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(values=st.lists(INI_VALUES, min_size=len(keys), max_size=len(keys)))
    def opens(values):
        tried.append(values)
        _ini_with(ini, keys, values)
        QSettings().sync()  # re-read the file written behind its back
        prefs = AppSettings.load()
        assert prefs.engine in ENGINES and prefs.offload in OFFLOAD_CHOICES
        assert prefs.render_defaults().problems() == []
        for f in fields(AppSettings):  # a text preference is text from the file or its default, never a repr
            if isinstance(f.default, str):
                value = getattr(prefs, f.name)
                assert isinstance(value, str) and not value.startswith(("['", "PySide6", "<PySide6")), f.name
        assert all(isinstance(p, str) and p for p in recent_projects())
        win = MainWindow(prefs)
        qtbot.addWidget(win)
        window_geometry.restore(win)
        assert win.minimumSizeHint().isValid()
        assert Path(win.dialog_start("film.mp4")).name == "film.mp4"
        assert TimelineOptionsDialog("otio").options().empty_shots in ("gap", "card")
        assert PdfOptionsDialog().options().page_size in ("A4", "Letter")
        fill_recent_menu(win)
        assert isinstance(win.draft_unavailable(), str) and check_models_folder(prefs.models_folder)
        win.close()

    tried: list = []
    opens()
    assert len(tried) >= 50, len(tried)  # hypothesis really wrote that many files


def test_a_folder_with_a_comma_written_by_hand_is_still_the_last_folder(qtbot, tmp_path):
    """QSettings reads an unquoted comma as a list: the last folder, like every text preference, reads back as the
    text as written (it was forgotten, and the save dialog opened in Videos)."""
    folder = tmp_path / "My, Films"
    folder.mkdir()
    window = MainWindow(AppSettings())
    qtbot.addWidget(window)
    ini = Path(QSettings().fileName())
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(f"[paths]\nlast_folder={folder}\n[settings]\nmodels_folder={folder}\n", "utf-8")
    QSettings().sync()
    assert QSettings().value("paths/last_folder") == [str(tmp_path / "My"), "Films"]  # what Qt hands back
    assert window.dialog_start("film.mp4") == str(folder / "film.mp4")
    assert AppSettings.load().models_folder == str(folder)
