// Serves end2end/fixtures on its own port: a plain "customer site" that embeds Frontdesk.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const port = Number(process.env.PORT || 3102);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const file = path.join(root, url.pathname === '/' ? 'host.html' : path.normalize(url.pathname));
    if (!file.startsWith(root)) {
      res.writeHead(403);
      return res.end();
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  })
  .listen(port, '127.0.0.1', () => console.log(`host page on ${port}`));
