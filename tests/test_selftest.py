"""``main.py --selftest`` and the PyInstaller spec that bundles what it needs.

The selftest runs the tiny engine through the app's real generation worker, in a subprocess, with
``PYTHONPROFILEIMPORTTIME`` on: the modules it imports are then checked against the spec, executed
here with stand-ins for PyInstaller's build steps (a full build takes minutes; build/build.sh does it
and runs the bundle's own --selftest).
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "build" / "storymem_studio.spec"
TIMEOUT_S = 300


def _selftest(tmp: Path, **env: str) -> subprocess.Popen:
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp)}
    full_env.pop("STORYMEM_CACHE", None)  # the selftest makes its own tiny models unless told otherwise
    full_env.update(env)
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--selftest"], cwd=ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    """Both runs at once (2 cores): one that must pass, one whose tiny-model cache cannot be created."""
    ok_tmp = tmp_path_factory.mktemp("selftest-ok")
    bad_tmp = tmp_path_factory.mktemp("selftest-bad")
    blocker = bad_tmp / "not-a-folder"
    blocker.write_text("a file where the tiny-model cache folder would go\n")
    procs = {
        "ok": _selftest(ok_tmp, PYTHONPROFILEIMPORTTIME="1"),
        "bad": _selftest(bad_tmp, STORYMEM_CACHE=str(blocker / "cache")),
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT_S)
        results[name] = (proc.returncode, out, err)
    results["ok_tmp"] = (0, str(ok_tmp), "")
    return results


def imported_modules(importtime_stderr: str) -> set[str]:
    # Lines look like "import time:       123 |        456 |     package.module".
    return {line.rsplit("|", 1)[1].strip() for line in importtime_stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2} - {"imported package"}


def test_selftest_generates_a_shot_and_exits_0(runs):
    rc, out, err = runs["ok"]
    assert rc == 0, out + err[-3000:]
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("selftest ok: 1 shot, 9 frames 64x48"), out
    modules = imported_modules(err)
    # The generation really ran: the worker loaded the engine stack.
    assert {"torch", "diffusers", "transformers", "peft", "av", "storyboard.worker"} <= modules
    # The engine process ended cleanly: nothing left for the resource tracker to warn about at quit.
    assert "leaked semaphore" not in err, err[-3000:]
    # It cleaned up its temporary project, cache and settings.
    assert not list(Path(runs["ok_tmp"][1]).glob("storymem-selftest-*"))


def test_selftest_failure_is_one_line_and_exit_1(runs):
    rc, out, err = runs["bad"]
    assert rc == 1, out + err[-3000:]
    assert "selftest ok" not in out
    last = err.strip().splitlines()[-1]
    assert last.startswith("selftest FAILED after") and "generation failed" in last, err[-3000:]


# ------------------------------------------------------------ the PyInstaller spec


class _Step:
    """Stands in for Analysis / PYZ / EXE / COLLECT: records its arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs
        self.pure, self.scripts, self.binaries, self.datas = [], [], [], []


@pytest.fixture(scope="module")
def spec() -> dict:
    pytest.importorskip("PyInstaller", reason="PyInstaller is in the test extra: pip install -e '.[test]'")
    steps = {name: type(name, (_Step,), {}) for name in ("Analysis", "PYZ", "EXE", "COLLECT")}
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(SPEC.parent),
                 "DISTPATH": str(ROOT / "dist"), "workpath": str(ROOT / "build" / "work"), "specnm": SPEC.stem,
                 **steps}
    path = list(sys.path)
    try:
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    finally:
        sys.path[:] = path
    return namespace


def _covered(module: str, names) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


def test_spec_builds_main_with_its_data_and_every_app_module(spec):
    analysis, exe, coll = spec["a"], spec["exe"], spec["coll"]
    assert [Path(s) for s in analysis.args[0]] == [ROOT / "main.py"]
    assert exe.kwargs["name"] == coll.kwargs["name"] == "StoryMemStudio"
    assert exe.kwargs["exclude_binaries"] is True  # one-folder, not one-file
    datas = analysis.kwargs["datas"]
    for source, _dest in datas:
        assert Path(source).exists(), source
    # The sample story lands where file_controller looks for it: <bundle>/resources/, beside storyboard/.
    assert (str(ROOT / "resources"), "resources") in datas
    assert (ROOT / "resources" / "sample_story.json").is_file()
    # NVRTC loads its builtins with dlopen: the spec must add them wherever libnvrtc itself comes from.
    binaries = analysis.kwargs["binaries"]
    assert all(Path(source).is_file() for source, _dest in binaries)
    site = Path(importlib.util.find_spec("torch").origin).parents[1]
    for nvrtc in site.glob("nvidia/*/lib/libnvrtc.so*"):
        dest = str(nvrtc.parent.relative_to(site))
        assert any("libnvrtc-builtins" in Path(src).name and d == dest for src, d in binaries), binaries
    # torchvision's operators are loaded by path, not imported: without them transformers' imports fail.
    for package in spec["NATIVE_LIBRARY_PACKAGES"]:
        folder = Path(importlib.util.find_spec(package).origin).parent
        for lib in folder.glob("*.so"):
            assert (str(lib), package) in binaries, lib
    dist_infos = {Path(dest).name.split("-")[0].lower() for _src, dest in datas if dest.endswith(".dist-info")}
    assert {"torch", "diffusers", "transformers", "peft", "accelerate", "open_clip_torch"} <= dist_infos
    assert any(dest.startswith("open_clip") for _src, dest in datas)  # model configs + BPE vocabulary

    hidden = set(analysis.kwargs["hiddenimports"])
    for package in ("storyboard", "storymem_engine"):
        mod = __import__(package)
        ours = {f"{package}.{m.name}" for m in pkgutil.walk_packages(mod.__path__)}
        assert ours and ours <= hidden, sorted(ours - hidden)
    # What the worker's lazy imports resolve to through diffusers' / transformers' lazy module tables.
    assert {"diffusers.pipelines.wan.pipeline_wan_i2v", "diffusers.models.transformers.transformer_wan",
            "diffusers.models.autoencoders.autoencoder_kl_wan", "transformers.models.umt5.modeling_umt5",
            "peft.tuners.lora.model", "open_clip.factory"} <= hidden
    for package in spec["LAZY_PACKAGES"]:
        assert importlib.util.find_spec(package) is not None and package in hidden, package


def test_spec_excludes_nothing_the_app_needs(spec, runs):
    excludes = spec["EXCLUDES"]
    tolerated = spec["TOLERATED_MISSING"]
    hidden = set(spec["a"].kwargs["hiddenimports"])
    required = ["storyboard", "storymem_engine", "torch", "torchvision", "diffusers", "transformers", "peft",
                "accelerate", "open_clip", "av", "cv2", "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets",
                "numpy", "PIL", "safetensors", "tokenizers", "huggingface_hub", "ftfy", "sentencepiece"]
    assert not [r for r in required if _covered(r, excludes)]
    assert set(tolerated) <= set(excludes)

    rc, _out, err = runs["ok"]
    assert rc == 0
    modules = imported_modules(err)
    # An excluded module the selftest imported must be one the code imports optionally (try/except).
    assert not sorted(m for m in modules if _covered(m, excludes) and not _covered(m, tolerated))
    # Every module of the lazily imported packages that the generation used is a hidden import.
    lazy = spec["LAZY_PACKAGES"]
    missing = sorted(m for m in modules if _covered(m, lazy) and m not in hidden and not _covered(m, excludes)
                     and _is_module(m))
    assert not missing, missing


def _is_module(name: str) -> bool:
    # -X importtime also lists names that optional imports tried and that are no module at all (open_clip's
    # guarded "from transformers import BeamSearchScorer", which transformers 5 no longer has).
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
