# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pets demo: ``db`` counts visits, ``web`` answers with db's count, finding db by name.

    pets.py start db|web --port N --pidfile F   (daemon; prints "started" or "running")
    pets.py stop --pidfile F                     (prints "stopped" or "not running")
"""

import argparse
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import urllib.request


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        # HTTPServer would resolve the bind address's name; a sandbox needs no DNS for this.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "pets", self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    visits = 0

    def reply(self, code, body, kind="text/plain"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Db(Handler):
    def do_GET(self):
        Db.visits += 1
        self.reply(200, json.dumps({"visits": Db.visits}), "application/json")


class Web(Handler):
    db_url = "http://db:6379/"

    def do_GET(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.db_url, timeout=3) as resp:
                visits = json.load(resp)["visits"]
            db_ip = socket.gethostbyname("db")
        except (OSError, ValueError) as e:
            self.reply(502, "web could not reach db: %s\n" % e)
            return
        self.reply(200, "Hello from web! db (%s, found by name) counted %d visits.\n" % (db_ip, visits))


def alive(pidfile):
    try:
        with open(pidfile) as f:
            pid = int(f.read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(role, port, pidfile):
    if alive(pidfile):
        print("running")
        return
    server = Server(("0.0.0.0", port), {"db": Db, "web": Web}[role])  # bind before detaching
    if os.fork():
        print("started")
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    server.serve_forever()


def stop(pidfile):
    pid = alive(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    print("stopped" if pid else "not running")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("role", nargs="?", choices=["db", "web"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pidfile", required=True)
    args = parser.parse_args()
    if args.action == "start":
        start(args.role, args.port, args.pidfile)
    else:
        stop(args.pidfile)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
