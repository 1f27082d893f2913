#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A loopback HTTP server for test/tool.sh.

usage: tool_httpd.py ADDRESS PORTFILE
Serves on ADDRESS (a 127.0.0.0/8 address) on a free port, written to
PORTFILE once listening.  /echo returns the request's X-Test header,
/slow answers after 5 seconds, /redirect/URL redirects to URL, anything
else returns "hello".
"""
import http.server
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(5)
        body = b"hello\n"
        if self.path == "/echo":
            body = ("X-Test=%s\n" % self.headers.get("X-Test")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def main():
    addr, portfile = sys.argv[1], sys.argv[2]
    srv = http.server.ThreadingHTTPServer((addr, 0), Handler)
    srv.daemon_threads = True
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
