"""The CLI builds the parser of the invoked command only (issue #19: ~20 ms of a ~90 ms ``list``),
and gives exactly what the whole parser gives: the same namespace, the same errors and help."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from slicer_ext_manager.cli import parser as cli_parser

ARGVS = [
    ["list"],
    ["--json", "list"],
    ["--settings-dir", "/tmp/x", "--revision", "33000", "search", "segment editor", "--category", "Segmentation"],
    ["install", "A", "B", "--no-deps"],
    ["--app-name", "list", "search", "foo"],  # a command's name as an option's value
    ["mirror", "pull", "--help-not-an-option"],
    ["restore", "--check", "--json"],
    ["history", "remove", "Foo", "--revision", "32000"],
    ["mirror", "pull", "/tmp/dest", "--revision", "33000"],
    ["serve", "--port", "0"],
    ["lst"],
    ["list", "--bogus"],
    ["--revision"],
    [],
]


def outcome(parse: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[Any, ...]:
    try:
        args = parse(argv)
    except SystemExit as exc:
        captured = capsys.readouterr()
        return ("exit", exc.code, captured.out, captured.err)
    data = {k: v for k, v in vars(args).items() if k != "func"}
    return ("ok", data, getattr(args.func, "__name__", None))


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a) or "(none)")
def test_same_result_as_the_whole_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    whole = outcome(lambda a: cli_parser.build_parser().parse_args(a), argv, capsys)
    assert outcome(cli_parser.parse_args, argv, capsys) == whole


@pytest.mark.parametrize("argv", [["--help"], ["list", "--help"], ["--json", "-h", "list"], ["mirror", "pull", "-h"]])
def test_same_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    whole = outcome(lambda a: cli_parser.build_parser().parse_args(a), argv, capsys)
    assert whole[0] == "exit" and whole[1] == 0 and "usage:" in whole[2]
    assert outcome(cli_parser.parse_args, argv, capsys) == whole


def test_only_the_invoked_command_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    original = argparse._SubParsersAction.add_parser

    def add_parser(self: Any, name: str, **kwargs: Any) -> Any:
        built.append(name)
        return original(self, name, **kwargs)

    monkeypatch.setattr(argparse._SubParsersAction, "add_parser", add_parser)
    cli_parser.parse_args(["--json", "list"])
    assert built == ["list"]
    built.clear()
    cli_parser.build_parser().parse_args(["list"])
    assert len(built) > 20
