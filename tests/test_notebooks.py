"""The six lesson notebooks in docs/notebooks/: source only in the repository, and each runs to the end.

Every notebook is executed top to bottom in a fresh ``python3`` kernel (nbclient) in its QUICK
mode (``TINYKWS_QUICK=1``), and any error in any cell — the notebooks' own checks included, such
as our int8 tensors against tflite-micro's — fails its test. ``TINYKWS_CACHE`` points at a
temporary folder, where the notebooks write everything (their ``WORK`` folder, and the small
synthetic set they render when ``../shared`` is absent); the repository's notebook folder must
hold the same files afterwards. The six share that folder, in order, as a learner's run would:
parts 4-6 reuse the model part 3 trained (run alone, each trains its own).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "docs" / "notebooks"
PARTS = ("01_audio_features", "02_size_and_profile", "03_training", "04_conversion",
         "05_quantization", "06_pruning")  # the course's order
DRAWING_CALLS = ("plt.subplots(", "_figure(f)", "display(Image(")
CELL_TIMEOUT_S = 900  # a cell on a heavily loaded machine; QUICK cells take seconds


def _read(name: str):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_six_parts_in_the_course_order():
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == list(PARTS)


@pytest.mark.parametrize("name", PARTS)
def test_committed_notebook_holds_source_only(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in _code_cells(nb):
        assert cell.outputs == [], f"{name}: a cell has outputs: strip them before committing"
        assert cell.execution_count is None, f"{name}: a cell has an execution count"
        assert "execution" not in cell.metadata, f"{name}: a cell keeps execution timings"


@pytest.mark.parametrize("name", PARTS)
def test_a_text_cell_comes_before_every_step(name):
    cells = _read(name).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# Part ")
    assert "QUICK = True" in cells[1].source  # the switch, at the top
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"{name}: no text before {cell.source[:60]!r}"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """One cache folder for the six, and the QUICK switch, in the kernels' environment."""
    root = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYKWS_QUICK", "1")
        mp.setenv("TINYKWS_CACHE", str(root / "cache"))
        yield root


@pytest.mark.parametrize("name", PARTS)
def test_notebook_runs_to_the_end(name, work):
    before = sorted(p.name for p in NOTEBOOK_DIR.iterdir())
    nb = _read(name)
    NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                   resources={"metadata": {"path": str(work)}}).execute()
    cells = _code_cells(nb)
    assert all(c.execution_count is not None for c in cells)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    for cell in cells:  # a cell that draws shows its figure (tinykws.plots keeps the inline backend)
        if any(call in cell.source for call in DRAWING_CALLS):
            shown = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert shown, f"{name}: no figure shown by {cell.source[:60]!r}"
    assert sorted(p.name for p in NOTEBOOK_DIR.iterdir()) == before, "a notebook wrote into the repository"
    written = Path(os.environ["TINYKWS_CACHE"]) / "notebooks"
    if name == "01_audio_features":
        assert len(list((written / "features").glob("*.png"))) == 6
    if name == "04_conversion":
        source = (written / "convert" / "model.cc").read_text()
        size = (written / "convert" / "model.tflite").stat().st_size
        assert f"const int g_model_len = {size};" in source
