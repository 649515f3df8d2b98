"""`synthret --help`: each command's whole one-line description, in plain text."""

from __future__ import annotations

from typer.testing import CliRunner

from synthret_ray.cli import app


def test_help_lists_every_command_with_its_whole_description_and_no_markup():
    """Pins the top-level help: it was the docstring's first line, cut mid-list and in reStructuredText
    ("The ``synthret`` command line: ``run``, ...")."""
    result = CliRunner().invoke(app, ["--help"], env={"NO_COLOR": "1"}, terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())  # rich wraps long descriptions over lines
    assert "``" not in text and "Turn a document corpus into a trained dense retriever" in text
    for command in app.registered_commands:
        description = " ".join(command.callback.__doc__.strip().split("\n\n")[0].split())
        assert f"{command.name} {description}" in text
