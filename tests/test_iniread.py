"""The pure-Python INI reader (``iniread.py``) gives what Qt's own ``QSettings`` reads from the
same bytes: hand-written files full of Qt's syntax, files Qt itself wrote from random values,
groups, arrays and ``@Variant`` maps. Runs under both bindings (PySide6 here, PythonQt in the
lane), and the CLI's read-only commands are shown not to load a binding at all."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from slicer_ext_manager import qtbinding
from slicer_ext_manager.iniread import QT_VALUE, IniSnapshot, decode_variant, parse_ini, unescape_value
from slicer_ext_manager.initext import text_problem
from slicer_ext_manager.settings import SettingsFile

QT5 = qtbinding.binding().qt_major == 5

CASES = {
    "plain": "[Extensions]\nServerUrl=https://slicer-packages.kitware.com\nBookmarked=A, B,C\n",
    "quoted list": '[a]\nk="x, y", z\nq="  spaced  "\nr=" a" b \n',
    "escapes": "[a]\nk=line1\\nline2\\tx\\x263a\\101\\\"q\\\\b\\?\\'\nh=\\x41\\x42z\\x\nu=a\\x20 \n",
    "octal and unknown": "[a]\nk=\\0\\17\\8x\\qy\nm=abc\\\n",
    "continuation": "[a]\nk=abc\\\ndef\nn=one\\\r\ntwo\nz=1\n",
    "comments": "; top comment\n[a]\n  ; indented\nk=value ; trailing\nq=\"a;b\"\n",
    "spaces": "[a]\nk =   value   \nt=\tv\t\nempty=\ncomma=,\ntrail=a,\n",
    "specials": "[a]\ninv=@Invalid()\nat=@@at\ns=@String(x, y)\nl=@@a, b\nb=@ByteArray(raw)\n",
    "keys": "[ExtensionsHistory]\nRevisions\\32000=A, B\nRevisions\\31000=C\nsp%20ace=1\nuni%U0041x=2\nbad%zz=3\nend%=4\n",
    "general": "top=0\n[General]\ntop2=1\n[%General]\nx=2\n[Other]\nMixedCase=3\nmixedcase=4\n",
    "duplicates": "[a]\nk=1\nk=2\n[b]\nx=1\n[a]\nk=3\nj=4\n",
    "array": "[PYTHONPATH]\n1\\path=/a\n2\\path=/b, /c\nsize=2\n[LibraryPaths]\nsize=0\n",
    "equals and quotes": '[a]\nk=a=b\n"q=r"=s\nw="x = y"\n',
    "crlf": "[a]\r\nk=1\r\nl=x, y\r\n",
    "bom": "\ufeff[a]\nk=1\n",
    "surrogates": "[a]\nemoji=\\xd83d\\xde00\nafter=\\x1f600x\n",
    "unterminated quote": '[a]\nk="abc\n',
    "trailing backslash": "[a]\nk=abc  \\",
}


def qt_view(path: Path) -> dict[str, Any]:
    """Every key of the file as a fresh ``QSettings`` reads it (through the core's seam)."""
    qs = qtbinding.open_ini(str(path))
    return {key: qtbinding.read_value(qs, key) for key in qtbinding.all_keys(qs)}


def our_view(raw: bytes) -> dict[str, Any]:
    snapshot = IniSnapshot(parse_ini(raw))
    return {key: qtbinding.read_value(snapshot, key) for key in snapshot.allKeys()}


def normalized(view: dict[str, Any]) -> dict[str, Any]:
    # PySide6 gives a QByteArray for @ByteArray, PythonQt a QByteArray wrapper: compare bytes.
    out = {}
    for key, value in view.items():
        if type(value).__name__ == "QByteArray":
            value = bytes(value.data()) if hasattr(value, "data") else bytes(value)
        out[key] = value
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_written_files_read_as_qt_reads_them(tmp_path: Path, name: str) -> None:
    raw = CASES[name].encode("utf-8")
    path = tmp_path / "Slicer.ini"
    path.write_bytes(raw)
    assert normalized(our_view(raw)) == normalized(qt_view(path))


def test_the_cases_cover_what_makes_a_difference() -> None:
    view = our_view(CASES["escapes"].encode())
    assert view["a/k"] == "line1\nline2\tx\u263aA\"q\\b?'"
    assert our_view(CASES["surrogates"].encode())["a/emoji"] == "\U0001F600"
    assert our_view(CASES["quoted list"].encode())["a/k"] == ["x, y", "z"]
    assert our_view(CASES["duplicates"].encode())["a/k"] == "3"
    assert our_view(CASES["keys"].encode())["ExtensionsHistory/Revisions/32000"] == ["A", "B"]
    assert our_view(CASES["specials"].encode())["a/inv"] is None


@pytest.mark.skipif(qtbinding.running_in_pythonqt(), reason="PythonQt raises on a lone surrogate")
def test_a_lone_surrogate_is_dropped_as_pyside6_drops_it(tmp_path: Path) -> None:
    raw = b"[a]\nlone=\\xd83d!\n"
    path = tmp_path / "s.ini"
    path.write_bytes(raw)
    assert our_view(raw) == qt_view(path) == {"a/lone": "!"}


def test_raw_utf8_is_read_as_qt6_reads_it(tmp_path: Path) -> None:
    raw = "[a]\npath=/home/zoë/Slicer, ünï\n".encode()
    assert our_view(raw)["a/path"] == ["/home/zoë/Slicer", "ünï"]
    if not QT5:  # Qt 5 (Slicer) reads raw bytes as Latin-1; Slicer itself writes \x escapes
        path = tmp_path / "u.ini"
        path.write_bytes(raw)
        assert our_view(raw) == qt_view(path)


ALPHABET = list("abcXYZ019 ,;=\"\\@\t\n\r%/#[]") + ["é", "\u263a", "\U0001F600", "@@", "@Invalid()"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def test_files_qt_wrote_from_random_values(tmp_path: Path) -> None:
    """Qt writes 400 random strings and lists; we read back exactly what Qt reads back."""
    rng = random.Random(19)
    path = tmp_path / "random.ini"
    qs = qtbinding.open_ini(str(path))
    for i in range(400):
        group = rng.choice(["", "Extensions/", "ExtensionsHistory/Revisions/", "G r/"])
        value: Any = random_text(rng) if rng.random() < 0.6 else [random_text(rng) for _ in range(rng.randint(2, 4))]
        qtbinding.write_value(qs, f"{group}key{i}", value)
    qs.sync()
    del qs
    raw = path.read_bytes()
    assert text_problem(raw) is None
    ours, qts = our_view(raw), qt_view(path)
    assert ours == qts
    assert len(ours) == 400


def test_variant_maps_qt_wrote(tmp_path: Path) -> None:
    """``Extensions/ScheduledForUpdate`` is a QVariantMap, written as ``@Variant(...)``."""
    path = tmp_path / "map.ini"
    qs = qtbinding.open_ini(str(path))
    mapping = {"SlicerIGT": "/tmp/updates/SlicerIGT.tar.gz", "Zoë": "a, b", "Empty": ""}
    qtbinding.write_value(qs, "Extensions/ScheduledForUpdate", mapping)
    qs.sync()
    del qs
    raw = path.read_bytes()
    assert b"@Variant(" in raw
    ours = our_view(raw)
    assert ours == qt_view(path)
    assert ours["Extensions/ScheduledForUpdate"] == dict(sorted(mapping.items()))


def test_data_stream_types() -> None:
    def qstring(text: str) -> bytes:
        data = text.encode("utf-16-be")
        return len(data).to_bytes(4, "big") + data

    assert decode_variant(b"\0\0\0\x01\x01") is True
    assert decode_variant(b"\0\0\0\x02\xff\xff\xff\xfe") == -2
    assert decode_variant(b"\0\0\0\x0b\0\0\0\x02" + qstring("a") + qstring("b")) == ["a", "b"]
    assert decode_variant(b"\0\0\0\x09\0\0\0\x01\0\0\0\x0a" + qstring("x")) == ["x"]
    with pytest.raises(ValueError):
        decode_variant(b"\0\0\0\x0a\0\0\0\x08ab")  # truncated string


def test_a_value_only_qt_decodes_is_read_by_qt(tmp_path: Path) -> None:
    path = tmp_path / "dt.ini"
    text = "[a]\nwhen=@Variant(\\0\\0\\0\\x10\\0%\\x8a\\xd9\\0\\0\\0\\0\\x1)\nplain=1\n"
    path.write_text(text, encoding="ascii")
    entries = parse_ini(path.read_bytes())
    assert entries["a/when"][1] is QT_VALUE
    opened: list[int] = []

    def qt() -> Any:
        opened.append(1)
        return qtbinding.open_ini(str(path))

    snapshot = IniSnapshot(entries, qt)
    assert snapshot.value("a/plain") == "1" and not opened
    assert snapshot.value("a/when") is not None and opened == [1]


def test_groups_arrays_and_child_keys(tmp_path: Path) -> None:
    raw = (CASES["array"] + CASES["keys"] + "[Extensions]\nA=1\nB\\c=2\n").encode()
    path = tmp_path / "g.ini"
    path.write_bytes(raw)
    qs = qtbinding.open_ini(str(path))
    ours = IniSnapshot(parse_ini(raw))
    for reader in (qs, ours):
        reader.beginGroup("Extensions")
        assert sorted(qtbinding.child_keys(reader)) == ["A"]
        assert sorted(qtbinding.all_keys(reader)) == ["A", "B/c"]
        reader.endGroup()
        reader.beginGroup("ExtensionsHistory/Revisions")
        assert sorted(qtbinding.child_keys(reader)) == ["31000", "32000"]
        reader.endGroup()
        assert int(reader.beginReadArray("PYTHONPATH")) == 2
        paths = []
        for i in range(2):
            reader.setArrayIndex(i)
            paths.append(qtbinding.read_value(reader, "path"))
        reader.endArray()
        assert paths == ["/a", ["/b", "/c"]]
        assert int(reader.beginReadArray("Missing")) == 0
        reader.endArray()
        assert reader.contains("ExtensionsHistory/Revisions/32000")
        assert not reader.contains("ExtensionsHistory/Revisions/1")


def test_settings_file_reads_without_a_binding_and_edits_with_qt(tmp_path: Path) -> None:
    path = tmp_path / "Slicer.ini"
    path.write_text(CASES["plain"] + "[Foreign]\nkeep=\"x, y\" ; theirs\n", encoding="utf-8")
    settings = SettingsFile(path)
    assert settings.string_list("Extensions/Bookmarked") == ["A", "B", "C"]
    with settings.edit() as editor:
        editor.add_to_list("Extensions/Bookmarked", ["D"])
    assert settings.string_list("Extensions/Bookmarked") == ["A", "B", "C", "D"]
    assert SettingsFile(path).read().value("Foreign/keep") == "x, y"
    assert qt_view(path) == our_view(path.read_bytes())


def test_unescape_value_lists() -> None:
    assert unescape_value("a, b ,c ") == ("c", ["a", "b", "c"])
    assert unescape_value('" a ", b') == ("b", [" a ", "b"])
    assert unescape_value("") == ("", None)


@pytest.mark.skipif(qtbinding.running_in_pythonqt(), reason="starts CPython processes of the CLI")
@pytest.mark.parametrize("command", [["list"], ["restore", "--check"], ["history"], ["bookmark", "list"],
                                     ["startup-check", "--no-install"]])
def test_read_only_commands_load_no_qt_binding(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "slicer.org"
    (home / "Extensions-33000" / "Foo").mkdir(parents=True)
    (home / "Slicer.ini").write_text(
        "[Extensions]\nBookmarked=Foo\n[ExtensionsHistory]\nRevisions\\32000=Foo, Bar\n", encoding="utf-8")
    (home / "Slicer-33000.ini").write_text("[Extensions]\nServerUrl=http://127.0.0.1:9\n", encoding="utf-8")
    (home / "Extensions-33000" / "Foo.s4ext").write_text("name Foo\nscmrevision 1\n", encoding="utf-8")
    options = ["--settings-dir", str(home), "--revision", "33000", "--os", "linux", "--arch", "amd64"]
    # A fresh cached catalog, so that restore --check needs no request.
    from slicer_ext_manager.cache import MetadataCache
    from slicer_ext_manager.catalog import catalog_from_items
    from slicer_ext_manager.cli.common import context_from_args
    from slicer_ext_manager.cli.parser import build_parser

    context = context_from_args(build_parser().parse_args([*options, "list"]))
    MetadataCache(context).save(catalog_from_items([]))
    code = (
        "import sys, json\n"
        "from slicer_ext_manager import cli\n"
        f"rc = cli.main({json.dumps([*options, *command])})\n"
        "heavy = sorted(m for m in ('PySide6', 'PythonQt', 'qt', 'requests', 'urllib3') if m in sys.modules)\n"
        "sys.stderr.write('LOADED ' + json.dumps(heavy) + '\\n')\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stderr.rsplit("LOADED ", 1)[1])
    assert loaded == [], f"{command} loaded {loaded}"


@pytest.mark.skipif(not qtbinding.running_in_pythonqt(), reason="inside Slicer only (the PythonQt lane)")
def test_inside_slicer_reads_see_what_slicer_set_but_did_not_save(tmp_path: Path) -> None:
    path = tmp_path / "Slicer.ini"
    path.write_text("[Extensions]\nBookmarked=A\n", encoding="utf-8")
    slicer_own = qtbinding.open_ini(str(path))  # Slicer's settings object, changed in memory only
    qtbinding.write_value(slicer_own, "Extensions/Bookmarked", ["A", "B"])
    assert path.read_bytes() == b"[Extensions]\nBookmarked=A\n"  # not saved yet
    assert SettingsFile(path).string_list("Extensions/Bookmarked") == ["A", "B"]
