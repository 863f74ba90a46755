// A WebSocket echo server for the WebSocket bench (the `ws` package from the repo's node_modules):
// every message is sent back as it came (text or binary).
// node ws-upstream.mjs PORT WS_ENTRY
const [port, entry] = process.argv.slice(2);
const { WebSocketServer } = (await import(entry)).default;
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port), perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
