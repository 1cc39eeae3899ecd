"""`.s4ext` files and the metadata record (reference §3.2, §4.4, §4.5, §4.7)."""

from __future__ import annotations

import json

from slicer_ext_manager import s4ext
from slicer_ext_manager.metadata import (
    SERVER_KEYS_TO_IGNORE,
    SERVER_TO_MODEL_KEY,
    ExtensionMetadata,
    normalize_server_item,
)

IMAGEMAKER_ITEM = json.loads(
    """
{
    "_id": "62985040e8408647b3b7fdad",
    "baseParentId": "5f4474d0e1d8c75dfc70547e",
    "baseParentType": "collection",
    "created": "2022-06-02T05:53:04.889000+00:00",
    "creatorId": "5f446e46e1d8c75dfc705450",
    "description": "This is a CLI module to create an image from scratch.",
    "folderId": "629842e1e8408647b3b7ebaf",
    "lowerName": "30987_imagemaker_linux_amd64_6293f99",
    "meta": {
      "app_id": "5f4474d0e1d8c75dfc705482",
      "app_revision": "30987",
      "arch": "amd64",
      "baseName": "ImageMaker",
      "category": "Developer Tools",
      "contributors": "Julien Finet (Kitware)",
      "dependency": "NA",
      "description": "This is a CLI module to create an image from scratch.",
      "homepage": "http://www.slicer.org/slicerWiki/index.php/Documentation/Nightly/Extensions/ImageMaker",
      "icon_url": "http://www.slicer.org/slicerWiki/images/e/e5/QuickToolsLogo.png",
      "os": "linux",
      "repository_type": "git",
      "repository_url": "https://github.com/finetjul/ImageMaker",
      "revision": "6293f99",
      "screenshots": "http://www.slicer.org/slicerWiki/images/8/81/ImageMaker.png"
    },
    "name": "30987_ImageMaker_linux_amd64_6293f99",
    "size": 1200220,
    "updated": "2022-06-02T05:53:04.928000+00:00"
}
"""
)

# The cache entry Slicer writes for this item (reference §3.7).
IMAGEMAKER_CACHE_ENTRY = {
    "arch": "amd64",
    "category": "Developer Tools",
    "contributors": "Julien Finet (Kitware)",
    "depends": "NA",
    "description": "This is a CLI module to create an image from scratch.",
    "extension_id": "62985040e8408647b3b7fdad",
    "extensionname": "ImageMaker",
    "homepage": "http://www.slicer.org/slicerWiki/index.php/Documentation/Nightly/Extensions/ImageMaker",
    "iconurl": "http://www.slicer.org/slicerWiki/images/e/e5/QuickToolsLogo.png",
    "os": "linux",
    "revision": "6293f99",
    "scm": "git",
    "scmurl": "https://github.com/finetjul/ImageMaker",
    "screenshots": "http://www.slicer.org/slicerWiki/images/8/81/ImageMaker.png",
    "slicer_revision": "30987",
    "updated": "2022-06-02T05:53:04.928000+00:00",
}

# The installed description Slicer writes after a server install (reference §4.5).
IMAGEMAKER_S4EXT = """arch amd64
archivename 30987-linux-amd64-ImageMaker-git6293f99-2017-07-03.tar.gz
category Developer Tools
contributors Julien Finet (Kitware)
depends NA
description This is a CLI module to create an image from scratch.
enabled true
extension_id 62985040e8408647b3b7fdad
homepage http://www.slicer.org/slicerWiki/index.php/Documentation/Nightly/Extensions/ImageMaker
iconurl http://www.slicer.org/slicerWiki/images/e/e5/QuickToolsLogo.png
installed true
md5 
os linux
release 
revision 6293f99
scm git
scmurl https://github.com/finetjul/ImageMaker
screenshots http://www.slicer.org/slicerWiki/images/8/81/ImageMaker.png
slicer_revision 30987
status 
updated 2022-06-02T05:53:04.928000+00:00
"""

SOURCE_S4EXT = """# First token is the key
scm git
scmurl https://github.com/jcfr/SlicerToKiwiExporter.git
scmrevision 9d7341e978df954a2c875240290833d7528ef29c
depends Foo Bar
recommends RecFoo RecBar
contributors Jean-Christophe Fillion-Robin (Kitware),   Pat Marion (Kitware)
category Exporter
status
description The module ...<br>This is a line of text.
enabled 0
dicom_support_rule Modality="SEG"
"""


def test_constants_match_slicer():
    assert SERVER_KEYS_TO_IGNORE == (
        "baseParentId", "baseParentType", "created", "creatorId", "description",
        "folderId", "lowerName", "meta.app_id", "name", "size",
    )
    assert len(SERVER_TO_MODEL_KEY) == 16
    assert SERVER_TO_MODEL_KEY["meta.app_revision"] == "slicer_revision"


def test_server_item_normalized_like_slicer_cache():
    assert normalize_server_item(IMAGEMAKER_ITEM) == IMAGEMAKER_CACHE_ENTRY


def test_meta_description_wins_over_item_description():
    item = dict(IMAGEMAKER_ITEM, description="old item-level text")
    assert normalize_server_item(item)["description"] == IMAGEMAKER_ITEM["meta"]["description"]


def test_metadata_from_server_item():
    m = ExtensionMetadata.from_server_item(IMAGEMAKER_ITEM)
    assert m.name == "ImageMaker"
    assert m.extension_id == "62985040e8408647b3b7fdad"
    assert m.slicer_revision == "30987"
    assert m.depends == ()
    assert m.screenshots == ("http://www.slicer.org/slicerWiki/images/8/81/ImageMaker.png",)
    assert m.to_cache_entry() == IMAGEMAKER_CACHE_ENTRY


def test_passthrough_meta_keys():
    item = json.loads(json.dumps(IMAGEMAKER_ITEM))
    item["meta"].update({"tier": 5, "sha512": "ab" * 64, "keywords": "image maker", "dependency": "A B"})
    m = ExtensionMetadata.from_server_item(item)
    assert m.tier == 5 and m.sha512 == "ab" * 64 and m.keywords == ("image", "maker")
    assert m.depends == ("A", "B")
    desc = m.to_description()
    assert desc["meta.tier"] == 5 and desc["depends"] == "A B"
    assert "meta.tier 5\n" in s4ext.format_text(desc)


def test_installed_description_written_exactly_like_slicer(tmp_path):
    m = ExtensionMetadata.from_server_item(IMAGEMAKER_ITEM).replace(
        archivename="30987-linux-amd64-ImageMaker-git6293f99-2017-07-03.tar.gz"
    )
    path = tmp_path / "ImageMaker.s4ext"
    s4ext.write(path, m.to_description(installed=True))
    assert path.read_text() == IMAGEMAKER_S4EXT
    back = s4ext.read(path)
    assert back["extensionname"] == "ImageMaker" and back["md5"] == ""
    assert ExtensionMetadata.from_model_map(back).installed is True


def test_s4ext_parsing_rules(tmp_path):
    path = tmp_path / "SlicerToKiwiExporter.s4ext.in"
    path.write_text(SOURCE_S4EXT)
    data = s4ext.read(path)
    assert data["extensionname"] == "SlicerToKiwiExporter"  # text before the first dot
    assert data["contributors"] == "Jean-Christophe Fillion-Robin (Kitware), Pat Marion (Kitware)"
    assert data["status"] == ""
    assert data["installed"] == "true"  # pre-5.0.3 files
    assert "#" not in "".join(data)


def test_s4ext_round_trip(tmp_path):
    original = {"a": "1", "b": "x y", "enabled": False, "release": "", "screenshots": "", "extensionname": "N"}
    path = tmp_path / "N.s4ext"
    s4ext.write(path, original)
    text = path.read_text()
    assert text == "a 1\nb x y\nenabled false\nrelease \nscreenshots \n"
    back = s4ext.read(path)
    assert back == {"a": "1", "b": "x y", "enabled": "false", "release": "", "screenshots": "", "extensionname": "N", "installed": "true"}


def test_newlines_never_corrupt_the_file(tmp_path):
    path = tmp_path / "N.s4ext"
    s4ext.write(path, {"description": "line1\nline2", "z": "1"})
    assert s4ext.read(path)["description"] == "line1<br>line2"
    assert s4ext.read(path)["z"] == "1"


def test_metadata_from_archive_description():
    m = ExtensionMetadata.from_archive_description(
        s4ext.parse_text(SOURCE_S4EXT), name="SlicerToKiwiExporter", archivename="x.tar.gz",
        slicer_revision="33241", os="linux", arch="amd64",
    )
    assert m.revision == "9d7341e978df954a2c875240290833d7528ef29c"
    assert m.depends == ("Foo", "Bar")  # honoured, unlike Slicer >= 5.0.3
    assert m.slicer_revision == "33241" and m.os == "linux"
    desc = m.to_description()
    assert desc["enabled"] is True  # the package's own "enabled 0" is ignored, as in Slicer
    assert desc["installed"] is True and desc["archivename"] == "x.tar.gz"


def test_compatibility_reasons_use_slicer_strings():
    m = ExtensionMetadata.from_server_item(IMAGEMAKER_ITEM)
    assert m.compatibility_reasons("30987", "linux", "amd64") == []
    assert m.compatibility_reasons("33241", "win", "arm64") == [
        "extensionSlicerRevision [30987] is different from slicerRevision [33241]",
        "extensionArch [amd64] is different from slicerArch [arm64]",
        "extensionOs [linux] is different from slicerOs [win]",
    ]
    assert m.compatibility_reasons("", "linux", "amd64") == ["'slicerRevision' parameter is not specified"]
    assert ExtensionMetadata(name="").compatibility_reasons("1", "linux", "amd64") == [
        "'extensionName' parameter is not specified"
    ]
    # Empty fields are not checked (Slicer's rule).
    assert ExtensionMetadata(name="X").compatibility_reasons("1", "linux", "amd64") == []
