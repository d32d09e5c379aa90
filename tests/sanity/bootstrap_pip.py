"""Stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test downloads get-pip from ci-files.testing.ansible.com, which this project's machines do
not reach; `make sanity` places this file where ansible-test caches that script. It does what
get-pip does with the same arguments: pip from the standard library's ensurepip, then
`pip install --upgrade --force-reinstall <arguments>` from PyPI (pip==<version> among them).
"""

import subprocess
import sys

# get-pip's own flags; pip install does not know them
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", "--force-reinstall", *arguments]))
