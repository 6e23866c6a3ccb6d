import { type BackendDefinition, oneOf, wholeNumber } from '../definition.js';
import { RIMAP_AUTH_MODES, RimapAuthenticator, type RimapAuthMode, type RimapConfigInput, rimapOptionsFrom } from './rimap.js';

/** `-a rimap`: a login on an IMAP server; `-O host[/port]` names it. */
export const rimap: BackendDefinition<RimapConfigInput> = {
  name: 'rimap',
  mechOption: 'host[/port]',
  flags: [
    { key: 'rimap-starttls', help: 'rimap: upgrade plaintext connections with STARTTLS (fail if not offered)', default: false },
    { key: 'rimap-ca', value: '<file>', help: 'rimap: PEM file of CA certificates to trust for the IMAP server', default: null },
    { key: 'rimap-insecure', help: 'rimap: do NOT verify the IMAP server certificate (unsafe)', default: false },
    { key: 'rimap-auth', value: '<mode>', help: 'rimap: auto (AUTHENTICATE PLAIN if offered, else LOGIN), plain or login', default: 'auto', parse: oneOf(RIMAP_AUTH_MODES) },
    { key: 'rimap-timeout', value: '<ms>', help: 'rimap: time for one whole check, all servers included', default: 15000, parse: wholeNumber(1) },
    { key: 'rimap-connect-timeout', value: '<ms>', help: 'rimap: time for one connect', default: 5000, parse: wholeNumber(1) },
    { key: 'rimap-read-timeout', value: '<ms>', help: 'rimap: time one read from the IMAP server may wait', default: 10000, parse: wholeNumber(1) },
    { key: 'rimap-max-connections', value: '<n>', help: 'rimap: connections open at once to each IMAP server', default: 16, parse: wholeNumber(1, 100_000) },
    { key: 'rimap-max-queue', value: '<n>', help: 'rimap: requests waiting for a connection slot, per server', default: 1024, parse: wholeNumber(0, 1_000_000) },
    { key: 'rimap-spare-connections', value: '<n>', help: 'rimap: connections per server kept greeted and ready (0 = none)', default: 2, parse: wholeNumber(0, 64) },
  ],
  options: (v, shared) => ({
    mechOption: shared.mechOption,
    rimapStarttls: v['rimap-starttls'] as boolean,
    rimapCa: v['rimap-ca'] as string | null,
    rimapInsecure: v['rimap-insecure'] as boolean,
    rimapAuth: v['rimap-auth'] as RimapAuthMode,
    rimapTimeoutMs: v['rimap-timeout'] as number,
    rimapConnectTimeoutMs: v['rimap-connect-timeout'] as number,
    rimapReadTimeoutMs: v['rimap-read-timeout'] as number,
    rimapMaxConnections: v['rimap-max-connections'] as number,
    rimapMaxQueue: v['rimap-max-queue'] as number,
    rimapSpareConnections: v['rimap-spare-connections'] as number,
  }),
  // Validation (hosts, CA file) warns through the backend's logger, so it happens here, not in options().
  create: async (options, deps) => new RimapAuthenticator(rimapOptionsFrom(options, deps.log), deps.log),
};
