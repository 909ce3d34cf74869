import http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length', 0)); body = self.rfile.read(n)
        name = os.path.basename(self.path)
        with open(OUT + '/' + name + '.txt', 'wb') as f: f.write(body)
        self.send_response(200); self.end_headers()
OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'out')
os.makedirs(OUT, exist_ok=True)
os.chdir(os.path.dirname(os.path.abspath(__file__)))
http.server.ThreadingHTTPServer(('127.0.0.1', 18931), H).serve_forever()
