import { accessSync, constants, lstatSync } from 'node:fs';
import { type Finding, found } from '../auth/check-finding.js';
import { checkRunDir } from '../server/run-dir.js';
import { gidOf, groupExists, uidOf } from '../server/ids.js';
import { SUN_PATH_MAX, probe, socketPath } from '../server/socket-file.js';
import type { DaemonOptions } from './daemon-options.js';

/**
 * What `listen()` would trip on, found without creating or changing anything: the socket's owner
 * and group, the run directory (safe, usable, or creatable), the socket path and what is there now.
 */
export async function checkSocketSetup(o: DaemonOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [flag, value, resolve] of [['--socket-owner', o.socketOwner, uidOf], ['--socket-group', o.socketGroup, gidOf]] as const) {
    if (value === null) continue;
    try {
      out.push(found.ok(`${flag} ${value} is id ${resolve(value)}`));
    } catch (e) {
      out.push(found.error(`${flag}: ${(e as Error).message}`));
    }
  }
  const path = socketPath(o.runDir);
  if (Buffer.byteLength(path) > SUN_PATH_MAX) out.push(found.error(`socket path ${path} is longer than ${SUN_PATH_MAX} bytes (sun_path); choose a shorter -m`));
  let state;
  try {
    state = checkRunDir(o.runDir);
  } catch (e) {
    const msg = (e as Error).message;
    out.push(found.error(msg.includes(o.runDir) ? msg : `run directory ${o.runDir}: ${msg}`));
    return out;
  }
  if (state.kind === 'missing') {
    try {
      accessSync(state.parent, constants.W_OK | constants.X_OK);
      const group = o.runDirGroup !== null && groupExists(o.runDirGroup) ? ` group ${o.runDirGroup}` : '';
      out.push(found.ok(`run directory ${o.runDir} does not exist yet; a start creates it (mode ${o.runDirMode.toString(8).padStart(4, '0')}${group})`));
      if (o.runDirGroup !== null && group === '') {
        out.push(found.warning(`--run-dir-group ${o.runDirGroup} does not exist, so ${o.runDir} would be created root-only and only root could reach the socket`));
      }
    } catch (e) {
      out.push(found.error(`run directory ${o.runDir} does not exist and cannot be created in ${state.parent}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`));
    }
    return out;
  }
  try {
    accessSync(o.runDir, constants.W_OK | constants.X_OK);
  } catch (e) {
    out.push(found.error(`run directory ${o.runDir} is not writable by this process (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), so the socket cannot be created`));
    return out;
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    out.push(found.ok(`run directory ${o.runDir} is usable; ${path} is free`));
    return out;
  }
  if (!st.isSocket()) out.push(found.error(`${path} exists and is not a socket; a start refuses to replace it`));
  else if ((await probe(path)) === 'live') out.push(found.warning(`a daemon is listening on ${path} now: a second start would fail; a restart is fine`));
  else out.push(found.ok(`run directory ${o.runDir} is usable; ${path} is a stale socket a start removes`));
  return out;
}
