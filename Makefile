# maildns.audit: the two commands a newcomer needs, and the lab around them.
#   make test         install everything (Debian packages, virtualenv) and run the whole suite
#   make lab-up       bring up a lab fleet (LAB_HOSTS=N), inventory in .lab/inventory.ini
#   make lab-down     take it down, leaving no namespace, link or process behind

PYTHON    ?= python3
VENV      ?= .venv
LAB_HOSTS ?= 3
PY        := $(VENV)/bin/python
BIN       := $(abspath $(VENV)/bin)
LINK      := .collections/ansible_collections/maildns/audit
export PATH := $(BIN):$(PATH)

.PHONY: demo bench-fleet bench-scale bench-report bench-probe bench-engine docs test deps system-deps venv lint sanity unit integration lab-up lab-down lab-status bench-lab clean

test: deps lint sanity
	$(PY) -m pytest

deps: system-deps venv $(LINK)

system-deps:
	./scripts/install-system-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet '.[test]'
	rm -rf build *.egg-info
	touch $@

# The checkout is the collection: ansible.cfg's collections_path and pytest's pythonpath both
# point at .collections, where this link makes it ansible_collections/maildns/audit.
$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn ../../.. $(LINK)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ansible-lint

# ansible-test sanity (validate-modules, pylint, pep8, yamllint, import, shellcheck, ...) on a copy
# of the checkout at <tmp>/ansible_collections/maildns/audit
sanity: venv
	VENV=$(VENV) ./scripts/sanity.sh

unit: deps
	$(PY) -m pytest tests/unit

integration: deps
	$(PY) -m pytest tests/integration

lab-up: deps
	$(PY) -m tests.lab up --hosts $(LAB_HOSTS)

lab-down: venv
	$(PY) -m tests.lab down

lab-status: venv
	$(PY) -m tests.lab status

bench-lab: deps
	$(PY) bench/lab_up.py 10 50

# playbooks/audit.yml beside ansible -m ping on 10, 25 and 50 lab hosts
bench-fleet: deps
	$(PY) bench/fleet_bench.py 10 25 50

# audit.yml on 50 and 500 lab hosts: time per host and controller memory, forks and strategy
bench-scale: deps
	$(PY) bench/fleet_bench.py --runs 1 --variants 50/linear,100/linear,50/free 50 500

# the report step on 1,000 and 10,000 host results: time, memory, file sizes, chromium's first screen
bench-report: deps
	$(PY) bench/report_bench.py 1000 10000

# the DNSBL probe beside check_rbl 1.7 and a sequential dnspython loop (installs check_rbl)
bench-probe: deps
	bench/install-bench-deps.sh
	$(PY) bench/probe_bench.py

# the DNS engine under load: 500 lists x 4 loopback resolvers (two answer garbage) in one batch
bench-engine: deps
	$(PY) bench/engine_load_bench.py 500 3.0 5

clean: lab-down
	rm -rf $(VENV) .collections .lab .lab-* build *.egg-info

# docs/FINDINGS.md, docs/DNSBLS.md, docs/PUBLIC_RESOLVERS.md from their catalogs
docs: venv $(LINK)
	PYTHONPATH=.:.collections $(PY) -m tests.tools.render_docs

# The main job on the built-in default: a lab fleet with one host per known case (tests/lab/scenarios),
# audited by playbooks/audit.yml, then previewed by playbooks/remediate.yml --check --diff (planned from
# that report); the report and the plan go to reports/demo/, the lab is taken down after.
DEMO_LAB := --state-dir .lab-demo --prefix mddemo --net 10.235
demo: deps
	$(PY) -m tests.lab $(DEMO_LAB) up --all-scenarios
	ansible-playbook -i .lab-demo/inventory.ini playbooks/audit.yml \
	  -e maildns_report_dir=$(CURDIR)/reports/demo -e audit_timeout=3 > reports-demo.log 2>&1; \
	  status=$$?; \
	  ansible-playbook -i .lab-demo/inventory.ini playbooks/remediate.yml --check --diff \
	  -e maildns_report_dir=$(CURDIR)/reports/demo -e maildns_audit_report=$(CURDIR)/reports/demo/report.json \
	  >> reports-demo.log 2>&1; \
	  $(PY) -m tests.lab $(DEMO_LAB) down; \
	  test -f reports/demo/report.json || { cat reports-demo.log; exit 1; }; \
	  sed -n '1,/^## /p' reports/demo/summary.md | sed '$$d'; \
	  echo "Report: reports/demo/ (report.json, junit.xml, summary.md); playbook output: reports-demo.log"; \
	  if [ $$status -ne 0 ]; then echo "The gate failed, as it should on this fleet of broken hosts."; fi; \
	  test -f reports/demo/plan.md || { echo "remediate.yml --check wrote no plan: see reports-demo.log"; exit 1; }; \
	  echo; sed -n '1,/^## /p' reports/demo/plan.md | sed '$$d'; \
	  echo "Plan: reports/demo/plan.md and plan.json (remediate.yml --check --diff; its diffs in reports-demo.log)"
