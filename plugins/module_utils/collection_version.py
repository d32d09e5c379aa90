# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's version, as the reports carry it (report.json `collection_version`).

galaxy.yml is the source of truth; a module cannot read it (AnsiballZ ships module_utils alone), so
the value is repeated here once and tests/unit/test_catalogs.py holds the two equal. A fleet report
merged from slices refuses slices written by different versions (report_merge).
"""

from __future__ import annotations

COLLECTION_VERSION = "0.1.0"
