import pytest

from bulkyard.core.spreadsheets import neutralise


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindented", "'\tindented"),
        ("-5", "-5"),
        ("+1.5e3", "+1.5e3"),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_cells_that_could_start_a_formula_get_a_quote_and_numbers_do_not(cell, written):
    assert neutralise(cell) == written
