# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip script that ansible-test downloads to bootstrap its venvs.

ansible-test runs it with pip install arguments; pip comes from the interpreter's own
ensurepip instead, then installs the pinned packages from the configured index, trusting
the system's CA bundle (ansible-test clears the machine's pip configuration).
"""

import ensurepip
import os
import subprocess
import sys

CA = "/etc/ssl/certs/ca-certificates.crt"

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
cert = ["--cert", CA] if os.path.exists(CA) else []
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + cert + args))
