// A small HTTP server that speaks the OpenAI chat-completions protocol (streamed), for the browser
// tests. It records every request (GET /__requests) so a test can check what the app asked.
//   "echo: <text>"  → replies with <text> exactly (Markdown and XSS payloads)
//   "long ..."      → 120 words, one every 25 ms (a model streaming briskly)
//   "slow ..."      → a long reply, one word every 150 ms (to stop it mid-way)
//   "costly ..."    → a short reply that reports 500,000 tokens used (past a visitor's day)
//   "broken ..."    → HTTP 500 (the upstream fails before any text)
//   anything else   → "Upstream reply to: <message>" in a few pieces
import http from 'node:http';

const port = Number(process.env.PORT || 3199);
const requests = [];

function chunk(res, content) {
  const body = { id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 1, model: 'e2e', choices: [] };
  if (content !== null) body.choices = [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }];
  res.write(`data: ${JSON.stringify(body)}\n\n`);
}

function finish(res, costly) {
  const used = costly ? { prompt_tokens: 400000, completion_tokens: 100000, total_tokens: 500000 }
    : { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
  const usage = { id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 1, model: 'e2e', choices: [],
    usage: used };
  res.write(`data: ${JSON.stringify(usage)}\n\n`);
  res.end('data: [DONE]\n\n');
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__requests') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(requests));
  }
  if (req.method === 'GET' && req.url === '/health') return res.end('ok');
  if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
    res.writeHead(404);
    return res.end();
  }
  let raw = '';
  req.on('data', (d) => (raw += d));
  req.on('end', () => {
    const body = JSON.parse(raw);
    requests.push(body);
    const last = [...body.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    if (last.startsWith('broken')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'internal failure at the upstream', type: 'server_error' } }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.socket.setNoDelay(true);
    let pieces;
    let pause;
    if (last.startsWith('echo:')) {
      pieces = [last.slice(5).trimStart()];
      pause = 0;
    } else if (last.startsWith('long')) {
      pieces = Array.from({ length: 120 }, (_, i) => `token${i} `);
      pause = 25;
    } else if (last.startsWith('slow')) {
      pieces = Array.from({ length: 200 }, (_, i) => `word${i} `);
      pause = 150;
    } else {
      pieces = `Upstream reply to: ${last}`.split(/(?<= )/);
      pause = 20;
    }
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i >= pieces.length) return finish(res, last.startsWith('costly'));
      chunk(res, pieces[i++]);
      setTimeout(next, pause);
    };
    next();
  });
});

server.listen(port, '127.0.0.1', () => console.log(`fake OpenAI on ${port}`));
