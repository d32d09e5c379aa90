# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting, reloading and stopping the daemons a remediation touches, with or without systemd.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

A host runs systemd when /run/systemd/system exists (sd_booted(3)); otherwise the distribution's
init script (/etc/init.d/NAME, which Debian's and Red Hat's packages ship) does the work.
Containers and the lab's hosts have no systemd.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import List, Optional, Tuple

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles

COMMAND_TIMEOUT = 60


def run(argv: List[str], timeout: int = COMMAND_TIMEOUT) -> Tuple[int, str]:
    """(exit code, stdout and stderr) of a command; 127 with the reason when it cannot run."""
    # Output goes to a file, not a pipe: a daemon that an init script starts inherits the script's
    # stdout, and a pipe would then stay open (and this call wait) for the daemon's whole life.
    with tempfile.TemporaryFile(mode="a+b") as output:
        try:
            completed = subprocess.run(
                argv, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout, check=False
            )
        except FileNotFoundError:
            return 127, "%s: not found" % argv[0]
        except subprocess.TimeoutExpired:
            return 124, "%s: no answer within %d s" % (" ".join(argv), timeout)
        except OSError as error:
            return 126, "%s: %s" % (argv[0], error)
        output.seek(0)
        return completed.returncode, output.read().decode("utf-8", "replace").strip()


def has_systemd(files: HostFiles) -> bool:
    return files.is_dir("/run/systemd/system")


def pid_running(files: HostFiles, pidfile: str) -> Optional[int]:
    """The pid in a pidfile when that process is alive, else None."""
    try:
        with open(files.path(pidfile)) as handle:
            pid = int(handle.read().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


class Service:
    """One daemon: `name` for systemd and the init script, `pidfile` to tell whether it runs."""

    def __init__(self, files: HostFiles, name: str, pidfile: str = "", unit: str = "") -> None:
        self.files = files
        self.name = name
        self.unit = unit or name
        self.pidfile = pidfile
        self.systemd = has_systemd(files)

    def running(self) -> bool:
        if self.systemd:
            code, _output = run(["systemctl", "is-active", "--quiet", self.unit])
            return code == 0
        return bool(self.pidfile) and pid_running(self.files, self.pidfile) is not None

    def _call(self, action: str) -> Tuple[int, str]:
        if self.systemd:
            return run(["systemctl", action, self.unit])
        script = "/etc/init.d/" + self.name
        if not os.path.exists(self.files.path(script)):
            return 127, "%s: no systemd on this host and no init script %s" % (self.name, script)
        return run([script, action])

    def start(self) -> Tuple[int, str]:
        return self._call("start")

    def stop(self) -> Tuple[int, str]:
        return self._call("stop")

    def restart(self) -> Tuple[int, str]:
        return self._call("restart")

    def reload(self) -> Tuple[int, str]:
        return self._call("reload")

    def enable(self) -> Tuple[int, str]:
        """Start at boot too: systemctl enable, or update-rc.d / chkconfig without systemd."""
        if self.systemd:
            return run(["systemctl", "enable", self.unit])
        for tool in (["update-rc.d", self.name, "defaults"], ["chkconfig", self.name, "on"]):
            code, output = run(tool)
            if code != 127:
                return code, output
        return 0, "no boot-time service tool found"
