"""Every CSV the lab offers opens safely in a spreadsheet (CSV formula injection, CWE-1236): a text cell that could
start a formula is escaped with a quote, numbers stay numbers, and the pages still show names as students wrote them."""

import csv
import io
import math
from dataclasses import replace

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from core.engine.csv_safe import FORMULA_STARTS, csv_text, spreadsheet_cell
from core.engine.display_name import name_problem
from core.engine.presets import QUICK
from core.engine.run_store import RunStore
from core.lab.classroom import ClassRoom
from tests.fake_runs import save_finished_run

LRS = (0.001, 0.0074, 0.0548, 0.405, 3.0)
# Names the lab accepts (the probe) that a spreadsheet would run as formulas.
FORMULA_NAMES = ['=HYPERLINK("x")', "+cmd", "@SUM(A1)", "-2+3 Bo"]


def test_a_text_cell_that_could_start_a_formula_is_quoted_and_numbers_stay_numbers():
    for text in ['=HYPERLINK("x")', "+cmd", "-cmd", "@SUM(A1)", "\t=1+1", "\r=1+1"]:
        assert spreadsheet_cell(text) == "'" + text
    assert [spreadsheet_cell(v) for v in (-0.5, 3, 0.0, "Ann", None, "a=b")] == [-0.5, 3, 0.0, "Ann", "", "a=b"]
    # A number given as text is text, and "-inf" is no number to a spreadsheet: both are escaped.
    assert spreadsheet_cell("-0.5") == "'-0.5" and spreadsheet_cell(-math.inf) == "'-inf"
    text = csv_text(["name", "value"], [['=HYPERLINK("x"),1', -0.5], ["Ann, Lee", math.nan]])
    assert list(csv.reader(io.StringIO(text))) == [["name", "value"], ['\'=HYPERLINK("x"),1', "-0.5"],
                                                   ["Ann, Lee", "nan"]]


@pytest.fixture
def offered(monkeypatch) -> dict[str, bytes]:
    """Every file a page offers for download in static form (file name: content), as Streamlit's media files hold it."""
    files: dict[str, bytes] = {}
    add = MediaFileManager.add

    def recording_add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if file_name is not None:
            files[file_name] = path_or_data
        return add(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    return files


def _is_number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


def unsafe_cells(content: bytes) -> list[str]:
    """The cells of a CSV file that a spreadsheet would run as formulas (numbers, negative ones too, are numbers)."""
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows and all(rows)
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS) and not _is_number(cell)]


def test_every_csv_the_lab_offers_escapes_formulas_and_the_pages_show_names_as_written(lab, runs_dir, offered):
    assert all(name_problem(name) is None for name in FORMULA_NAMES)  # the lab accepts them as display names
    room, store = ClassRoom(runs_dir), RunStore(runs_dir)
    room.start_experiment("lr", LRS, QUICK.to_dict())
    for i, name in enumerate(FORMULA_NAMES):
        save_finished_run(store, replace(QUICK, lr=LRS[i], seed=i), name, 80.0 + i)

    student = lab("pages/class.py")
    assert [row["name"] for _, row in student.dataframe[0].value.iterrows()] == FORMULA_NAMES[::-1]  # best first
    room.end_experiment()
    student.run()  # the ended experiment, with its CSV
    train = lab("pages/train.py")  # the run history's metrics CSV of the newest run
    assert not student.exception and not train.exception

    csvs = {name: content for name, content in offered.items() if name.endswith(".csv")}
    assert any(name.startswith("class-experiment-") for name in csvs)
    assert any(name.endswith("-metrics.csv") for name in csvs)
    for name, content in csvs.items():
        assert unsafe_cells(content) == [], name
    (experiment_csv,) = {content for name, content in csvs.items() if name.startswith("class-experiment-")}
    students = [row[1] for row in csv.reader(io.StringIO(experiment_csv.decode()))][1:]
    assert students == ["'" + name for name in FORMULA_NAMES]  # the quote a spreadsheet hides, then the name
