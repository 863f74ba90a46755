// WebSocket echo load for the WebSocket bench: CONNS connections to ws://127.0.0.1:PORT/ with
// `Host: HOST`, each keeping WINDOW messages of SIZE bytes in flight (a new one sent for every
// echo received), for SECONDS after a 1 s warm-up. Prints one JSON line:
// { messages, seconds, perSec, bad } (bad = echoes that differ from what was sent, or errors).
// node ws-load.mjs PORT HOST SECONDS CONNS WINDOW SIZE WS_ENTRY
const [port, host, seconds, conns, window, size, entry] = process.argv.slice(2);
const WebSocket = (await import(entry)).default;
const payload = Buffer.alloc(Number(size), 'm');
let counting = false;
let messages = 0;
let bad = 0;
const sockets = [];
await Promise.all(
  Array.from(
    { length: Number(conns) },
    () =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host }, perMessageDeflate: false });
        sockets.push(ws);
        ws.binaryType = 'nodebuffer';
        ws.once('open', () => {
          for (let i = 0; i < Number(window); i++) ws.send(payload);
          resolve();
        });
        ws.once('error', reject);
        ws.on('message', (data) => {
          if (data.length !== payload.length) bad++;
          if (counting) messages++;
          if (ws.readyState === WebSocket.OPEN) ws.send(payload);
        });
      }),
  ),
);
await new Promise((r) => setTimeout(r, 1000));
counting = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
counting = false;
const elapsed = (performance.now() - t0) / 1000;
for (const ws of sockets) ws.terminate();
console.log(JSON.stringify({ messages, seconds: Math.round(elapsed * 1000) / 1000, perSec: Math.round(messages / elapsed), bad }));
