// The ceiling of the registration measurement: fastify@5 alone, one POST route that parses
// the JSON body and answers 201 with a fixed client (no validation, no signature). Same
// process layout and IPC handshake as the two real servers.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const answer = { client_id: 'x', client_secret: 'y' };
app.post('/register', async (req, reply) => {
  if (typeof req.body !== 'object' || req.body === null) return reply.code(400).send({ error: 'invalid_request' });
  return reply.code(201).send(answer);
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send({ type: 'ready', issuer: address, endpoints: { register: `${address}/register`, token: `${address}/token`, introspect: `${address}/introspect` } });
const stop = () => void app.close().then(() => process.exit(0));
process.on('disconnect', stop);
process.on('SIGTERM', stop);
