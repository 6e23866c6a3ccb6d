import { fstatSync } from 'node:fs';

/**
 * True when journald reads our stderr: systemd sets JOURNAL_STREAM to the `dev:ino` of the stream it
 * connected to stderr (systemd.exec(5)). Comparing it with what fd 2 really is tells a journald
 * stream from stderr redirected to a file by a script the service runs (where JOURNAL_STREAM is
 * inherited but wrong), so only journald gets `<N>` prefixes and a file gets timestamps.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env['JOURNAL_STREAM'] ?? '');
  if (m === null) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}
