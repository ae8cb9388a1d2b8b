/** Baseline for round trips: a vscode-jsonrpc server on a unix socket that answers every request with {}. */
import net from 'node:net';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';

const path = process.argv[2]!;
const server = net.createServer((socket) => {
  const conn = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket));
  conn.onRequest(() => ({}));
  conn.listen();
  socket.on('error', () => conn.dispose());
});
server.listen(path, () => process.send?.('ready'));
process.on('disconnect', () => process.exit(0));
