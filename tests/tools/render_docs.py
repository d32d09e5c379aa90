"""Write the generated docs from their one source each: `python -m tests.tools.render_docs` (make docs).

docs/FINDINGS.md <- the finding catalog; docs/DNSBLS.md <- the DNSBL catalog;
docs/PUBLIC_RESOLVERS.md <- the public-resolver table. A unit test fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog, findings, public_resolvers

DOCS = Path(__file__).resolve().parents[2] / "docs"
GENERATED = {
    "FINDINGS.md": findings.render_markdown,
    "DNSBLS.md": dnsbl_catalog.render_markdown,
    "PUBLIC_RESOLVERS.md": public_resolvers.render_markdown,
}


def main() -> int:
    for name, render in GENERATED.items():
        (DOCS / name).write_text(render())
        print(f"wrote docs/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
