#!/usr/bin/env python3
"""Run QMP commands against a QEMU monitor socket, in order.

usage: qmp.py SOCKET STEP...
  a STEP is a command name ("query-sev"), a command with JSON arguments
  ('sev-inject-launch-secret {"packet-header": "..."}'), or "@EVENT" to
  wait for that event.  Each command's "return" value is printed as one
  line of JSON; an error is printed on stderr and ends the run (exit 1).
"""
import json
import socket
import sys


class Monitor:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile("r")
        self.events = []
        self.receive()                      # greeting
        self.execute("qmp_capabilities")

    def receive(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("QEMU closed the monitor")
        return json.loads(line)

    def execute(self, name, arguments=None):
        request = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            msg = self.receive()
            if "event" in msg:
                self.events.append(msg)
            elif "error" in msg:
                raise RuntimeError("%s: %s" % (name, msg["error"]["desc"]))
            else:
                return msg.get("return")

    def wait_event(self, name):
        while True:
            for i, msg in enumerate(self.events):
                if msg["event"] == name:
                    del self.events[: i + 1]
                    return msg
            self.events.append(self.receive())


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    mon = Monitor(argv[1])
    for step in argv[2:]:
        if step.startswith("@"):
            print(json.dumps(mon.wait_event(step[1:])))
            continue
        name, _, args = step.partition(" ")
        try:
            ret = mon.execute(name, json.loads(args) if args else None)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 1
        except ConnectionError:
            if name == "quit":
                break
            raise
        print(json.dumps(ret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
