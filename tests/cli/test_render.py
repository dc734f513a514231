"""How the CLI prints when its output is no terminal (bulkyard/cli/render.py)."""

from rich.table import Table

from bulkyard.cli import render

COMMAND = "bulkyard results 8d6aa94f-1234-4567-89ab-0123456789ab --failed -o failed.csv " * 2


def _grid_with(value: str) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row("next", value)
    return grid


def test_off_a_terminal_stderr_keeps_a_long_table_line_whole(capsys):
    render.errors().print(_grid_with(COMMAND))

    assert COMMAND.strip() in capsys.readouterr().err


def test_off_a_terminal_stdout_keeps_a_long_table_line_whole(capsys):
    render.output().print(_grid_with(COMMAND))

    assert COMMAND.strip() in capsys.readouterr().out


def test_a_summarys_true_false_and_null_read_as_words():
    job = {
        "id": "8d6aa94f-1234-4567-89ab-0123456789ab",
        "kind": "data.import",
        "status": "succeeded",
        "summary": {"dry_run": False, "written": True, "note": None},
    }
    console = render.output()

    with console.capture() as captured:
        console.print(render.job_table(job))

    text = captured.get()
    assert "dry_run" in text
    assert "no" in text
    assert "yes" in text
    for python_word in ("False", "True", "None"):
        assert python_word not in text
