#!/usr/bin/env python3
"""A file server on the loopback interface for the fetch tests (tests/data/data_fetch_test.sh):
serves the files of ROOT, and under /truncated/NAME announces NAME's full length but sends half
of it and closes, as a dropped connection does. Binds 127.0.0.1 on a free port, prints the port
on its first line, and serves until killed or for at most 10 minutes."""
import http.server, os, sys, threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        truncated = self.path.startswith("/truncated/")
        name = os.path.basename(self.path)
        path = os.path.join(sys.argv[1], name)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        body = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if truncated else body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(600, server.shutdown).start()  # bounded: never outlives a stuck test
server.serve_forever()
