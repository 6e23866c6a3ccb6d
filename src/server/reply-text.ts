import type { Outcome } from '../auth/authenticator.js';
import { UnreachableError } from '../errors.js';

/**
 * The one place where outcomes become wire text. libsasl2 keeps only the first two bytes, so by
 * default every failure reads the same and gives nobody probing the socket a hint; the precise
 * reason goes to the log. With --compat-replies the backend's saslauthd text is sent unchanged.
 */
export const UNIFORM_FAILURE = 'NO authentication failed';

export function replyText(outcome: Outcome, compat: boolean): string {
  switch (outcome.kind) {
    case 'ok':
      return compat ? outcome.compat : 'OK';
    case 'rejected':
    case 'unavailable':
      // A backend must never turn a failure into success by its compat text.
      return compat && outcome.compat.startsWith('NO') ? outcome.compat : UNIFORM_FAILURE;
    default: {
      const never: never = outcome;
      throw new UnreachableError(`unhandled outcome ${String(never)}`);
    }
  }
}

/** Replies to requests that never reach a backend; compat texts are saslauthd 2.1.28's. */
export const PROTOCOL_REPLIES = {
  'too-long': 'NO ',
  'empty-login': 'NO NULL login received',
  'empty-password': 'NO NULL password received',
  'nul-byte': 'NO NUL byte in request',
  'bad-utf8': 'NO invalid UTF-8 in request',
} as const;

export function protocolReply(kind: keyof typeof PROTOCOL_REPLIES, compat: boolean): string {
  return compat ? PROTOCOL_REPLIES[kind] : UNIFORM_FAILURE;
}
