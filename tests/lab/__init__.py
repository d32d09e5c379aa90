"""The lab fleet (see README.md here). Importable from the command line as well as from pytest."""

import sys
from pathlib import Path

# The fixtures read the collection's catalogs: make the checkout importable as
# ansible_collections.maildns.audit (the link `make deps` creates), as pytest's pythonpath does.
_COLLECTIONS = str(Path(__file__).resolve().parents[2] / ".collections")
if _COLLECTIONS not in sys.path:
    sys.path.append(_COLLECTIONS)
