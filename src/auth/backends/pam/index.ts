import { type BackendDefinition, wholeNumber } from '../definition.js';
import { type PamFlags, createPamAuthenticator } from './factory.js';

/** `-a pam`: the PAM stack, one helper process per conversation. */
export const pam: BackendDefinition<PamFlags> = {
  name: 'pam',
  flags: [
    { key: 'pam-service', value: '<name>', help: "PAM service for every request (default: the request's service field)", default: null },
    { key: 'pam-timeout', value: '<ms>', help: 'time one PAM conversation may take before its helper is killed', default: 10000, parse: wholeNumber(1) },
    { key: 'pam-fail-delay', value: '<ms>', help: 'delay before answering a PAM authentication failure (0: none)', default: 2000, parse: wholeNumber(0, 60_000) },
    { key: 'pam-queue', value: '<n>', help: 'requests that may wait for a free PAM helper', default: 1024, parse: wholeNumber(0, 1_000_000) },
  ],
  options: (v, shared) => ({
    helpers: shared.concurrency,
    pamQueue: v['pam-queue'] as number,
    pamTimeoutMs: v['pam-timeout'] as number,
    pamFailDelayMs: v['pam-fail-delay'] as number,
    pamService: v['pam-service'] as string | null,
  }),
  create: async (options, deps) => createPamAuthenticator(options, deps.log),
};
