// A grpc-js server for the gRPC bench (like /work/shared/bench-peers/mtls/grpc-server.mjs):
//   /bar.Echo/Echo    unary, answers the request's bytes;
//   /bar.Echo/Stream  server streaming: the request is 8 bytes (count, size as uint32 BE),
//                     the answer `count` messages of `size` bytes, written with backpressure.
// node grpc-upstream.mjs PORT GRPC_JS_ENTRY
const [port, entry] = process.argv.slice(2);
const grpc = (await import(entry)).default;
const raw = { requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
const service = {
  Echo: { path: '/bar.Echo/Echo', requestStream: false, responseStream: false, ...raw },
  Stream: { path: '/bar.Echo/Stream', requestStream: false, responseStream: true, ...raw },
};
const server = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
server.addService(service, {
  Echo: (call, cb) => cb(null, call.request),
  Stream: (call) => {
    const count = call.request.readUInt32BE(0);
    const size = call.request.readUInt32BE(4);
    const msg = Buffer.alloc(size, 7);
    let i = 0;
    const pump = () => {
      while (i < count) {
        i++;
        if (!call.write(msg)) return void call.once('drain', pump);
      }
      call.end();
    };
    call.on('cancelled', () => {
      i = count;
    });
    pump();
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
});
