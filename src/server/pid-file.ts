import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { PidFileError } from '../errors.js';

/** saslauthd's name for it, in its run directory: scripts that read saslauthd's pid find ours there. */
export const PID_FILE_NAME = 'saslauthd.pid';

export interface PidFile {
  readonly path: string;
  /** The inode we put in place: on exit we remove only that file. */
  readonly ino: number;
}

/**
 * Writes `<pid>\n` (saslauthd's format) to `path` without following a link: the pid goes into a new
 * file created next to it with O_EXCL|O_NOFOLLOW, which rename() then puts in place. rename()
 * replaces a link at `path` instead of writing through it, and readers never see a half-written file.
 */
export function writePidFile(path: string, pid: number = process.pid): PidFile {
  const tmp = `${path}.${pid}.tmp`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    writeSync(fd, `${pid}\n`);
    const { ino } = fstatSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
    return { path, ino };
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      if (lstatSync(tmp).isFile()) unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new PidFileError(`--pid-file ${path}: cannot write it: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Removes the pid file on exit only if it is still ours: the same inode, still holding our pid. A
 * newer daemon's file (it replaced ours) stays. After --user the run directory may not let us
 * unlink; the next start replaces the file.
 */
export function removePidFile(file: PidFile, pid: number = process.pid): boolean {
  try {
    const st = lstatSync(file.path);
    if (!st.isFile() || st.ino !== file.ino) return false;
    if (readFileSync(file.path, 'utf8') !== `${pid}\n`) return false;
    unlinkSync(file.path);
    return true;
  } catch {
    return false;
  }
}
