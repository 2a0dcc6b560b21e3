# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A callback for the benchmarks: how long each task of a play took, across all its hosts.

Enabled by benchmarks/fleet.py (ANSIBLE_CALLBACKS_ENABLED=task_times), it appends one JSON
line per playbook run to the file named by CNM_TASK_TIMES: [[task name, seconds], ...].
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Each task's time, for the benchmarks
description: Appends each task's seconds, as one JSON line per run, to the file named by CNM_TASK_TIMES.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.times = []
        self.current = None

    def _close(self):
        if self.current:
            name, start = self.current
            self.times.append([name, time.monotonic() - start])
        self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = (task.get_name(), time.monotonic())

    def v2_playbook_on_stats(self, stats):
        self._close()
        with open(os.environ["CNM_TASK_TIMES"], "a") as f:
            f.write(json.dumps(self.times) + "\n")
