# cnm.fabric: `make demo` and `make test` set up everything they need on Debian 12 (as root).
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Debian 12 ships pyroute2 0.7.2: the integration suite runs against it too (the main venv has 0.9).
VENV_OLD := .venv-pyroute2-0.7
BUILD := .build
LINK := $(BUILD)/ansible_collections/cnm/fabric
SANITY := $(BUILD)/sanity/ansible_collections/cnm/fabric
# python3-pyroute2 (0.7.2) and python3-netaddr: the modules' libraries for the system python3, which
# the namespace fleet's hosts use, as a Debian 12 managed host would. graphviz draws the docs' diagrams.
# containernetworking-plugins and dnsmasq-base: the CNI reference plugins the cni driver is tested with, and a DHCP server for the dhcp one.
APT_PACKAGES := nftables iproute2 iputils-ping procps util-linux python3-venv ca-certificates rsync etcd-server \
	python3-pyroute2 python3-netaddr graphviz containernetworking-plugins dnsmasq-base
# What the vm_fleet scenario needs besides: qemu (TCG), the image's tools, SSH, tcpdump for its captures.
# The peers make bench measures against: the CNI reference plugins and netavark, with iptables for their NAT.
BENCH_PACKAGES := containernetworking-plugins netavark iptables
VM_PACKAGES := qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client tcpdump
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
# community.docker (for its nsenter connection, used by molecule/netns_fleet), taken from
# the `ansible` package on PyPI: Ansible Galaxy is not needed.
ANSIBLE_PACKAGE := ansible==12.3.0
DEPS := $(BUILD)/deps
DOCKER_COLLECTION := $(DEPS)/ansible_collections/community/docker
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(BUILD):$(CURDIR)/$(DEPS)
export ANSIBLE_FORCE_COLOR := 0
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: docs deps demo demo-check demo-clean test unit typecheck test-vm pytest pytest-pyroute2-0.7 molecule sanity lint bench bench-fleet build build-check clean

deps: $(VENV)/.deps $(LINK) $(DOCKER_COLLECTION)

# $(call apt_install,PACKAGES[,APT OPTIONS]): a shell command installing those of PACKAGES that are missing.
apt_install = missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) $$missing >/dev/null; \
	fi

$(VENV)/.deps: tests/requirements.txt
	@$(call apt_install,$(APT_PACKAGES))
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -r tests/requirements.txt
	touch $@

$(VENV_OLD)/.deps: tests/requirements.txt $(VENV)/.deps
	python3 -m venv $(VENV_OLD)
	$(VENV_OLD)/bin/pip install -q 'pyroute2==0.7.2' 'netaddr==0.8.0' \
	  $$(grep -E '^(ansible-core|pytest|hypothesis|etcd3gw)' tests/requirements.txt)
	touch $@

$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn $(CURDIR) $(LINK)

$(DOCKER_COLLECTION): $(VENV)/.deps
	rm -rf $(DEPS) && mkdir -p $(DEPS)/wheel
	$(BIN)/pip download -q --no-deps -d $(DEPS)/wheel "$(ANSIBLE_PACKAGE)"
	$(BIN)/python -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith('ansible_collections/community/docker/')])" \
	  $(DEPS)/wheel/*.whl $(DEPS)
	rm -rf $(DEPS)/wheel

## The pets example on this machine: prints the page web serves on host port 8000.
demo: deps
	$(BIN)/ansible-playbook playbooks/demo.yml

## After the tests: the demo still answers on port 8000, and its state_dir has no drift.
demo-check: deps
	$(BIN)/ansible-playbook tests/tools/demo-check.yml

## Undo the demo.
demo-clean: deps
	$(BIN)/ansible-playbook playbooks/teardown.yml

TEST_PARTS := pytest pytest-pyroute2-0.7 molecule test-vm build-check docs lint sanity typecheck

## Everything CI runs, part by part; each part's time is printed as it ends, and all of them at the end.
test: deps
	@times=""; for part in $(TEST_PARTS); do start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$part || { echo "make test: $$part failed"; exit 1; }; \
	  took="$$part $$(( $$(date +%s) - start )) s"; echo "make test: $$took"; times="$$times, $$took"; \
	done; echo "make test: passed ($${times#, })"

## The unit tests alone: no root, no kernel change, seconds.
unit: deps
	$(BIN)/python -m pytest -q tests/unit

pytest: deps
	$(BIN)/python -m pytest -q tests/unit tests/integration

## The same with Debian's pyroute2 0.7.2, less the tests whose subject is no netlink of the collection's:
## the CNI plugins (they make their own links), the roles (molecule's netns_fleet runs them with Debian's
## pyroute2), IPAM backends and record migration.
PYTEST_NOT_0.7 := test_cni.py test_roles.py test_ipam_backends.py test_migration.py
pytest-pyroute2-0.7: deps $(VENV_OLD)/.deps
	CNM_FAULT_ROUNDS=6 $(VENV_OLD)/bin/python -m pytest -q tests/unit tests/integration \
	  $(foreach f,$(PYTEST_NOT_0.7),--ignore=tests/integration/$(f))


molecule: deps
	$(BIN)/molecule test -s bridge
	$(BIN)/molecule test -s netns_fleet

## molecule/vm_fleet: three Debian VMs under qemu (TCG), with kernels of their own, for
## 802.1Q VLANs and ipvlan; prints each phase's time. Needs root and /dev/net/tun.
test-vm: deps
	@if [ "$$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then echo "test-vm: skipped (needs root and /dev/net/tun)"; exit 0; fi; \
	$(call apt_install,$(VM_PACKAGES),--no-install-recommends); \
	tests/tools/vm.sh run tests/tools/molecule-phases.sh $(CURDIR)/$(BIN)/molecule vm_fleet \
	  destroy syntax create converge idempotence verify destroy

sanity: deps
	mkdir -p $(dir $(GET_PIP)) && cp tests/tools/get_pip.py $(GET_PIP)
	rm -rf $(SANITY) && mkdir -p $(SANITY)
	git ls-files -co --exclude-standard | rsync -a --files-from=- ./ $(SANITY)/
	# A repository of its own, or ansible-test would see the checkout's and skip ignored .build.
	cd $(SANITY) && git init -q && git add -A && \
	  $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --color no

## Bulk endpoints against the iproute2 floor, the CNI plugins, netavark and an Ansible loop, as
## playbook runs too; published ports' data plane; IPAM rates; the 20-host overlay.
## Writes benchmarks/results/.
bench: deps $(VENV_OLD)/.deps
	@$(call apt_install,$(BENCH_PACKAGES),--no-install-recommends)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/fleet.py

## Only the overlay across 20 hosts (playbooks/overlay.yml): converge, no-op, a host leaving.
bench-fleet: deps
	$(BIN)/python benchmarks/fleet.py

## The docs site (plugin reference and guides, diagrams drawn from real runs) into .build/docs;
## any warning fails it.
docs: deps
	tests/tools/docs.sh $(BUILD)

## Type hints of module_utils, checked by mypy (tests/tools/mypy.ini): every function annotated.
typecheck: deps
	cd $(BUILD) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/tests/tools/mypy.ini \
	  -p ansible_collections.cnm.fabric.plugins.module_utils

lint: deps
	$(BIN)/ansible-lint --offline roles playbooks molecule

build: deps
	$(BIN)/ansible-galaxy collection build --force

## The built tarball installs, ansible-doc documents every plugin and role from the installed copy,
## and no test-rig file is in it.
build-check: deps
	tests/tools/check-package.sh $(BUILD)

clean:
	rm -rf $(BUILD) tests/output *.tar.gz
