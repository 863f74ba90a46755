// The benchmark's upstream: keep-alive node:http server answering a 13-byte
// body after reading (and dropping) the request body. GET /big answers 1 MiB
// (the streaming test's download direction). Usage: node upstream.mjs <port>
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const body = Buffer.from('hello world\n!');
const big = Buffer.alloc(1024 * 1024, 120);

createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const out = req.url === '/big' ? big : body;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': out.length });
    res.end(out);
  });
}).listen(port, '127.0.0.1');
