#!/usr/bin/env bash
# ansible-test sanity on the collection, as the Ansible community runs it, on this machine's Python.
#
# ansible-test wants the collection at .../ansible_collections/maildns/audit and reads the real path
# (the .collections link does not do), so the checkout's files are copied there first, in a temporary
# folder outside the checkout (inside it, ansible-test asks git and finds the copy ignored).
# Its sanity virtualenvs bootstrap pip with a get-pip script from ci-files.testing.ansible.com, which
# this project's machines do not reach: tests/sanity/bootstrap_pip.py stands in for it, and every
# package still comes from PyPI at the versions ansible-test pins.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(realpath "${VENV:-.venv}")
export PATH="$VENV/bin:$PATH"

python_version=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pip_version=$("$VENV/bin/python" - "$python_version" <<'PY'
import sys
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version=sys.argv[1]))["pip"])
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp tests/sanity/bootstrap_pip.py "$cache"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/maildns-sanity.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
tree=$scratch/ansible_collections/maildns/audit
mkdir -p "$tree"
# tracked and new files, as git sees them; a tracked file deleted in the work tree is left out
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' path; do [[ -e $path || -L $path ]] && printf '%s\0' "$path"; done |
  xargs -0 cp -P --parents -t "$tree"

cd "$tree"
ansible-test sanity --local --python "$python_version" --color no "$@"
