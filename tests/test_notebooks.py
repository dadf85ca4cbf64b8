"""Both notebooks run from start to end on the committed results (so they cannot rot)."""

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["evaluation_hybrid", "evaluation_sft"])
def test_notebook_executes(name):
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type == "display_data" and "image/png" in o.get("data", {})
               for o in outputs) >= 2  # the plots were drawn
