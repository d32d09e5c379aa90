"""Command line of the lab fleet: `python -m tests.lab up|down|status` (the Makefile calls it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.lab.fleet import DEFAULT_STATE_DIR, Lab, LabError, LabNetwork, default_fleet, fleet_from_file
from tests.lab.scenario import ScenarioError, available_scenarios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--prefix", default="mdlab", help="names of namespaces and links (default mdlab)")
    parser.add_argument("--net", default="10.231", help="the lab is <net>.0.0/16 (default 10.231)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="bring a fleet up (tearing down whatever was left)")
    up.add_argument("--hosts", type=int, default=3, help="number of hosts, cycling through the scenarios")
    up.add_argument("--fleet", type=Path, help="YAML file: hosts: [{name: mx01, scenario: healthy}, ...]")
    up.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME=SCENARIO",
        help="one host with a given scenario (repeatable; replaces --hosts)",
    )
    up.add_argument("--all-scenarios", action="store_true", help="one host per scenario, named after it (the demo)")
    commands.add_parser("down", help="stop every lab process, delete namespaces and links")
    commands.add_parser("status", help="list the hosts of the running lab")
    commands.add_parser("scenarios", help="list the scenario files")
    args = parser.parse_args(argv)

    if args.command == "scenarios":
        print("\n".join(available_scenarios()))
        return 0
    lab = Lab(args.state_dir, LabNetwork(args.prefix, args.net))
    try:
        if args.command == "up":
            if args.all_scenarios:
                fleet = [(name.replace("_", "-"), name) for name in available_scenarios()]
            elif args.fleet:
                fleet = fleet_from_file(args.fleet)
            elif args.host:
                fleet = [tuple(item.split("=", 1)) for item in args.host]
                if any(len(item) != 2 for item in fleet):
                    parser.error("--host takes NAME=SCENARIO")
            else:
                fleet = default_fleet(args.hosts)
            lab.up(fleet)  # type: ignore[arg-type]
            print(f"lab up: {len(lab.hosts)} hosts; inventory {lab.inventory}")
            for host in lab.hosts:
                print(f"  {host.name:<10} {host.address:<14} {host.scenario}")
        elif args.command == "down":
            lab.down()
            left = {kind: items for kind, items in lab.leftovers().items() if items}
            if left:
                print(f"lab down: left behind {left}", file=sys.stderr)
                return 1
            print("lab down: nothing left")
        elif args.command == "status":
            running = Lab.load(args.state_dir)
            for host in running.hosts:
                print(f"{host.name:<10} {host.address:<14} {host.scenario}")
    except (LabError, ScenarioError, ValueError, OSError) as error:
        print(f"lab {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
