import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeAddonMissingError } from '../errors.js';

/** The raw addon's exports. Each feature file in addon/ adds its functions here. */
export interface NativeBinding {
  verify(password: Buffer, hash: string): Promise<boolean>;
  hash(password: Buffer, setting: string): Promise<string | null>;
  gensalt(prefix: string, rounds: number): string | null;
  /** Frees the yescrypt regions kept between `$y$` hashes that have been idle for `idleMs` or more; returns how many idle ones are left. */
  yescryptTrim(idleMs: number): number;
  getpwnam(name: string): Promise<PasswdLookup>;
  /** One datagram to an AF_UNIX address given as sun_path bytes (leading NUL: abstract); 0 or -errno. */
  sendUnixDatagram(address: Buffer, data: Buffer): number;
  /** Family, type and bound path (`@name` if abstract) of a socket descriptor; also sets FD_CLOEXEC on it. */
  inspectListener(fd: number): { family: 'unix' | 'inet' | 'inet6' | 'other'; type: 'stream' | 'dgram' | 'seqpacket' | 'other'; path: string | null };
  /** SO_PEERCRED + SO_PEERGROUPS (supplementary gids) of a connected UNIX socket; throws with the errno text when the kernel refuses. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number; groups: number[] };
  /** SO_PEERCRED only, into `out`: pid, uid, gid; 0, or -errno (the per-accept path of src/native/peercred.ts). */
  peerCredentialsInto(fd: number, out: Uint32Array): number;
  /** MIT libkrb5: TGT for `principal` with the password, verified against the keytab (src/native/krb5.ts). */
  krb5Authenticate(args: Krb5AuthArgs): Promise<Krb5Result>;
  /** MIT libkrb5: the keytab holds a key for the verify principal; with probeKdc, the KDC accepts it. */
  krb5CheckKeytab(args: Krb5ServerArgs & { readonly probeKdc: boolean }): Promise<Krb5Result>;
  /** libkrb5 com_err codes by their krb5.h names. */
  readonly krb5ErrorCodes: Readonly<Record<string, number>>;
  /** stat(2) of `path` into `out`: ino, size, mtime s, mtime ns, ctime s, ctime ns; 0, or -errno (src/native/stat-stamp.ts). */
  statStamp(path: string, out: Float64Array): number;
  /** Bytes of the state `hmacSha256Prepare` fills: the key's inner and outer SHA-256 states (src/native/hmac-key.ts). */
  readonly hmacSha256StateBytes: number;
  hmacSha256Prepare(key: Uint8Array, state: Uint8Array): void;
  /** HMAC-SHA-256 of `data` under the key whose state `hmacSha256Prepare` filled, into `out` (32 bytes). */
  hmacSha256(state: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  /** One Cyrus sasldb (Berkeley DB) lookup of login NUL realm NUL userPassword, compared with `password`. */
  sasldbLookup(file: string, login: string, realm: string, password: Buffer): Promise<SasldbRead>;
}

/**
 * One read of a sasldb file. `stable`: the file (inode, size, mtime, ctime) was the same before and
 * after the read; `quietMs`: how long before the read it last changed. `error` only with `error`/`missing`.
 */
export interface SasldbRead {
  readonly status: 'match' | 'mismatch' | 'notfound' | 'missing' | 'error';
  readonly stable: boolean;
  readonly quietMs: number;
  readonly error?: string;
}

/** Which keytab and verify principal (`service/host`, as krb5_sname_to_principal makes it). */
export interface Krb5ServerArgs {
  /** Keytab name (`FILE:/path` or a path); null: libkrb5's default keytab. */
  readonly keytab: string | null;
  /** Service part of the verify principal (saslauthd: `host`). */
  readonly verifyService: string;
  /** Host part; null: this host's name, canonicalised as krb5.conf says. */
  readonly serverName: string | null;
}

export interface Krb5AuthArgs extends Krb5ServerArgs {
  readonly principal: string;
  /** No NUL bytes (the addon refuses them: libkrb5 takes a C string). */
  readonly password: Buffer;
}

/** Where the call stopped (`ok`: TGT obtained and verified) and libkrb5's code and text there. */
export interface Krb5Result {
  readonly stage: 'ok' | 'context' | 'keytab' | 'server-name' | 'keytab-entry' | 'internal' | 'parse' | 'init-creds' | 'verify' | 'kdc';
  readonly code: number;
  readonly message: string;
  readonly keytabName: string;
  /** The verify principal as resolved (from the keytab entry when one was looked up). */
  readonly serverPrincipal: string;
}

/** What getpwnam_r(3) found through NSS. `errno`/`error` are set only for a real lookup failure. */
export interface PasswdLookup {
  readonly found: boolean;
  readonly passwd?: string;
  readonly uid?: number;
  readonly errno?: number;
  readonly error?: string;
}

const require = createRequire(import.meta.url);

// src/native/*.ts (tests) and dist/native/*.js (installed) both sit two levels below the root;
// the benchmark's copy, dist-bench/src/native/*.js, three. Only that exact layout looks one level
// higher: an installed package never searches its parents for an addon to load.
const BENCH_BUILD = basename(fileURLToPath(new URL('../..', import.meta.url))) === 'dist-bench';
export const NATIVE_BUILD_DIR = fileURLToPath(new URL(BENCH_BUILD ? '../../../build/Release/' : '../../build/Release/', import.meta.url));

const ADDON_PATH = `${NATIVE_BUILD_DIR}saslauthd_native.node`;

/**
 * Why the addon could not be loaded (null once loaded). A package installed with its install
 * scripts blocked (npm 11's allowScripts, --ignore-scripts) has no build/ directory; the CLI checks
 * this before anything else and names the fix, rather than letting the first call throw.
 */
export let nativeLoadProblem: string | null = null;

export { NativeAddonMissingError };

function load(): NativeBinding {
  try {
    return require(ADDON_PATH) as NativeBinding;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    nativeLoadProblem = `${ADDON_PATH}: ${err.code === 'MODULE_NOT_FOUND' ? 'no such file' : err.message.split('\n')[0] ?? String(e)}`;
    // Every function throws the same clear error, so a caller that skipped the check still fails closed.
    const missing = (): never => {
      throw new NativeAddonMissingError(`the native addon is not loaded: ${nativeLoadProblem as string}`);
    };
    return new Proxy({} as NativeBinding, { get: () => missing });
  }
}

export const native: NativeBinding = load();
