"""Getting images and files in and out, safely: what the method does not need to be read.

- ``files``     atomic writes and sha256 checks, written once
- ``download``  downloads with a size limit, a timeout and a clear error, into a file that is whole or absent
- ``images``    load anything as an RGB tensor in [0, 1] (a path, a URL, a bundled name, a PIL image), save
  atomically with the recipe in the PNG, show grids
- ``gallery``   the bundled photos and paintings by name, with their credits (images/SOURCES.md)
"""

from . import download, files, gallery, images  # noqa: F401  so that helpers.io.images works after `import helpers`
