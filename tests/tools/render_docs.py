"""Write the generated docs from their one source each: `python -m tests.tools.render_docs` (make docs).

docs/FINDINGS.md <- the finding catalog; docs/DNSBLS.md <- the DNSBL catalog;
docs/PUBLIC_RESOLVERS.md <- the public-resolver table; the metrics table inside docs/PROMETHEUS.md
<- report_metrics.METRICS (the rest of that file is written by hand). A unit test fails when they are
stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible_collections.maildns.audit.plugins.module_utils import (
    dnsbl_catalog,
    findings,
    public_resolvers,
    report_metrics,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
GENERATED = {
    "FINDINGS.md": findings.render_markdown,
    "DNSBLS.md": dnsbl_catalog.render_markdown,
    "PUBLIC_RESOLVERS.md": public_resolvers.render_markdown,
}


# Files written by hand around a generated part: name -> (text -> text with that part regenerated).
SPLICED = {"PROMETHEUS.md": report_metrics.splice_metrics_table}


def main() -> int:
    for name, render in GENERATED.items():
        (DOCS / name).write_text(render())
        print(f"wrote docs/{name}")
    for name, splice in SPLICED.items():
        (DOCS / name).write_text(splice((DOCS / name).read_text()))
        print(f"wrote the generated part of docs/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
