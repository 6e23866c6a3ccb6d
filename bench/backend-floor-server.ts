import pino from 'pino';
import { defaultValues } from '../src/auth/backends/definition.js';
import { backendNamed } from '../src/auth/registry.js';
import { RequestSignal } from '../src/auth/request-signal.js';
import { Secret } from '../src/auth/secret.js';
import { Crypt } from '../src/native/crypt.js';
import { serveFloor } from './floor-common.js';

// The backend floor (issue 15): the bare server of floor-common.ts, deciding with one of our
// backends, built as compose.ts's createBackend builds it when no backend flag is given (the
// flags' defaults, the same -O). No validation, deadline, log line, connection timers or wrappers
// (policy, penalty, routing). The row's Node.js floor to this row is the backend and its library
// (ldapts, our IMAP client); this row to ours is the request path every backend shares.
//   node backend-floor-server.js BACKEND -O OPTION -m DIR

const [name, oFlag, option, mFlag, dir] = process.argv.slice(2);
if (name === undefined || oFlag !== '-O' || option === undefined || mFlag !== '-m' || dir === undefined) {
  process.stderr.write('usage: backend-floor-server BACKEND -O OPTION -m DIR\n');
  process.exit(2);
}
const def = backendNamed(name);
const log = pino({ level: 'silent' });
const backend = await def.create(def.options(defaultValues(def), { mechOption: option, concurrency: 5 }), { crypt: new Crypt(5), log });

serveFloor(dir, (login, password, answer) => {
  // The fields are views of the request buffer: copied, since the answer comes after more reads.
  const req = { login: login.toString('utf8'), password: new Secret(Buffer.from(password)), service: 'imap', realm: '', clientAddr: null };
  backend.authenticate(req, new RequestSignal()).then(
    (o) => answer(o.kind === 'ok'),
    () => answer(false),
  );
});
