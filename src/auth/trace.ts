/**
 * Receives one line per step of a request: which route, what each backend received, the LDAP filter
 * it sent, the PAM file it used. Only `saslauthd-ts --test` sets one. Every call site is written
 * `req.trace?.(who, text)`: optional chaining skips the argument list when there is no trace, so a
 * daemon request builds no text and allocates nothing for it.
 */
export type Trace = (who: string, text: string) => void;
