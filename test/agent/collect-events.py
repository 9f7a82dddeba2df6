# Runs the real Azure Linux agent's extension-event collection (azurelinuxagent/ga/
# collect_telemetry_events.py, _ProcessExtensionEvents) over one handler's events folder, with the
# agent's own send queue replaced by a list, and prints what it would send as JSON:
#   {"events": [{param: value, ...}], "left": [files still in the folder]}
# Usage: PYTHONPATH=<agent> python3 collect-events.py HANDLER_NAME EVENTS_DIR
import json
import os
import sys

from azurelinuxagent.ga.collect_telemetry_events import _ProcessExtensionEvents


class Queue(object):
    def __init__(self):
        self.events = []

    def stopped(self):
        return False

    def get_thread_name(self):
        return "test"

    def enqueue_event(self, event):
        self.events.append(dict((p.name, p.value) for p in event.parameters))


def main():
    handler, folder = sys.argv[1], sys.argv[2]
    q = Queue()
    _ProcessExtensionEvents(q)._capture_extension_events(handler, folder)
    print(json.dumps({"events": q.events, "left": sorted(os.listdir(folder))}, default=str))


if __name__ == "__main__":
    main()
