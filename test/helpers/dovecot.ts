/** A throwaway Dovecot for rimap tests; it lives in src/bench so the benchmark can start the same one. */
export { HAVE_DOVECOT, makeCertificate, startDovecot, type DovecotOptions, type DovecotUser, type RunningDovecot } from '../../src/bench/dovecot.js';
