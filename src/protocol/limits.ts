/** saslauthd's MAX_REQ_LEN: a field of exactly this many bytes is accepted, one more is not. */
export const MAX_FIELD_BYTES = 256;

/** Replies stay below libsasl2's 1023-byte read and testsaslauthd's 1024-byte buffer. */
export const MAX_REPLY_BYTES = 1000;

export const FIELD_NAMES = ['login', 'password', 'service', 'realm', 'client address'] as const;
export type FieldName = (typeof FIELD_NAMES)[number];
