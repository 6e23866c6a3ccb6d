import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Which PAM configuration Linux-PAM will read for a service name: `/etc/pam.d/<service>` (lower-cased,
 * as pam_start does), else `/etc/pam.d/other`; `/etc/pam.conf` only when there is no /etc/pam.d.
 * This is the answer to saslauthd's most common support question ("why does smtp use `other`?").
 */
export function pamConfigFor(service: string, pamDir = '/etc/pam.d'): string {
  if (!existsSync(pamDir)) return '/etc/pam.conf';
  const own = join(pamDir, service.toLowerCase());
  if (existsSync(own)) return own;
  const other = join(pamDir, 'other');
  if (existsSync(other)) return `${other} (no ${own})`;
  return `none: neither ${own} nor ${other} exists, so PAM refuses everything`;
}

/**
 * Service names we hand to pam_start. The name comes from the client, and PAM turns it into a file
 * name, so anything with a slash, a leading dot or odd bytes is refused before PAM sees it.
 */
export function isValidPamService(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,63}$/.test(name);
}
