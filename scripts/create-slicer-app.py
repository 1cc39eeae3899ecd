#!/usr/bin/env python3
"""Create the Slicer application folder with the id unmodified Slicer asks for
(5f4474d0e1d8c75dfc705482) on a site's own Slicer Package Manager (Girder) server.

Girder chooses folder ids itself, so ``POST /app`` (and ``mirror push``) cannot create an
application with that id. Run this ONCE with the Python of the Girder server (its virtualenv,
the same Girder configuration / ``GIRDER_MONGO_URI``), then push into it::

    /opt/girder/venv/bin/python create-slicer-app.py [--name Slicer]
    slicer-ext-manager mirror push MIRROR --server https://packages.site --api-key KEY \\
        --app-id 5f4474d0e1d8c75dfc705482

It does what the plugin's ``POST /app`` does (collection "Applications", folder "packages",
the application folder with the plugin's name templates and its "draft" child, all public),
then gives the application folder the fixed id. It refuses to run when a folder with that
id already exists. Back up the database first; this writes to it directly.
"""

from __future__ import annotations

import argparse
import sys

SLICER_APP_ID = "5f4474d0e1d8c75dfc705482"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="Slicer", help="application name (default: Slicer)")
    args = parser.parse_args(argv)
    from bson import ObjectId
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.user import User

    folders = Folder()
    if folders.load(SLICER_APP_ID, force=True) is not None:
        print(f"A folder with id {SLICER_APP_ID} exists already; nothing to do.", file=sys.stderr)
        return 1
    admin = User().findOne({"admin": True})
    if admin is None:
        print("This Girder has no site administrator; create one first.", file=sys.stderr)
        return 1
    collection = Collection().findOne({"name": "Applications"}) or Collection().createCollection(
        "Applications", creator=admin, public=True)
    packages = folders.findOne({"parentId": collection["_id"], "name": "packages"}) or folders.createFolder(
        collection, "packages", parentType="collection", public=True, creator=admin)
    app = folders.createFolder(packages, args.name, parentType="folder", public=True, creator=admin)
    doc = folders.collection.find_one({"_id": app["_id"]})
    folders.collection.delete_one({"_id": app["_id"]})
    doc["_id"] = ObjectId(SLICER_APP_ID)
    folders.collection.insert_one(doc)
    app = folders.load(SLICER_APP_ID, force=True)
    folders.setMetadata(app, {"applicationPackageNameTemplate": "{baseName}_{os}_{arch}_{revision}",
                              "extensionPackageNameTemplate": "{app_revision}_{baseName}_{os}_{arch}_{revision}"})
    folders.createFolder(app, "draft", parentType="folder", public=True, creator=admin,
                         description="Uploaded each night, always up-to-date")
    print(f"Created the application {args.name!r} with id {SLICER_APP_ID}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
