import { describe, expect, it } from 'vitest';
import { daemonProgram, parseDaemonArgs } from '../../src/cli/daemon-args.js';
import { effectiveConfiguration, inapplicableFlags } from '../../src/cli/check-flags.js';
import { splitTestArgs } from '../../src/cli/test-args.js';

function parsed(args: string[]) {
  const program = daemonProgram();
  const c = parseDaemonArgs(args, program);
  if (c.kind !== 'run') throw new Error('not run');
  return { program, o: c.options };
}

describe('--test arguments: -u -p -s -r are the request\'s, as testsaslauthd takes them', () => {
  it('splits request flags from daemon flags, keeping the value of a daemon flag that looks like one', () => {
    const { daemonArgv, request } = splitTestArgs(['-a', 'rimap', '-O', '-r', '--test', '-u', 'joe', '-s', 'smtp', '-r', 'example.org', '--realm-concat', '-p', 'pw'], daemonProgram());
    expect(daemonArgv).toEqual(['-a', 'rimap', '-O', '-r', '--realm-concat']);
    expect(request).toEqual({ user: 'joe', password: 'pw', service: 'smtp', realm: 'example.org', clientAddr: null });
  });

  it("defaults as testsaslauthd's: service imap, empty realm; no -p means: read it", () => {
    expect(splitTestArgs(['-a', 'shadow', '--test', '-u', 'joe'], daemonProgram()).request).toEqual({ user: 'joe', password: null, service: 'imap', realm: '', clientAddr: null });
  });

  it('-u is required; a flag without its value is refused', () => {
    expect(() => splitTestArgs(['-a', 'shadow', '--test'], daemonProgram())).toThrow('--test needs -u USER');
    expect(() => splitTestArgs(['-a', 'shadow', '--test', '-u'], daemonProgram())).toThrow('--test: -u needs a value');
  });
});

describe('--check: effective configuration and flags that do nothing', () => {
  it('one line per setting, * on non-defaults, modes in octal, -d shown as the log level it gives', () => {
    const { program, o } = parsed(['-a', 'shadow', '-n', '0', '-d', '--socket-mode', '660', '--allow-uid', 'postfix,cyrus', '-l']);
    const lines = effectiveConfiguration(program, o);
    expect(lines).toContain('* -n, --threads                    = 0 (runs as 1)');
    expect(lines).toContain('*     --socket-mode                = 0660');
    expect(lines).toContain('*     --allow-uid                  = postfix, cyrus');
    expect(lines).toContain('*     --log-level                  = debug');
    expect(lines).toContain('* -l, --no-accept-lock-file        = yes');
    expect(lines).toContain('      --passwd-file                = /etc/passwd');
    // Backends not in use do not list their flags; actions are not settings.
    expect(lines.some((l) => l.includes('--rimap-starttls') || l.includes('--check') || l.includes('--test') || l.includes('--help'))).toBe(false);
  });

  it('a backend flag for a backend not in use, -O nobody reads, -t/-s without -c are errors; penalty flags with --fail-delay 0 warnings', () => {
    const { program, o } = parsed(['-a', 'shadow', '--pam-service', 'smtp', '-O', 'imap.example', '-t', '60', '-s', '100', '--fail-delay', '0', '--penalty-max', '100']);
    expect(inapplicableFlags(program, o)).toEqual([
      { level: 'error', text: '--pam-service is given but applies to -a pam only, and no pam backend is in -a or --route' },
      { level: 'error', text: expect.stringMatching(/^-O imap\.example is given but no backend in use reads -O \(.*rimap.*\)$/) },
      { level: 'error', text: '-t is given but the credential cache is off (no -c), so it has no effect' },
      { level: 'error', text: '-s is given but the credential cache is off (no -c), so it has no effect' },
      { level: 'warning', text: '--penalty-max has no effect: --fail-delay 0 turns the delay and the penalty off' },
    ]);
  });

  it('flags that apply give no finding, through a route too', () => {
    const { program, o } = parsed(['-a', 'shadow', '--route', 'smtp=rimap', '-O', 'imap.example', '--rimap-starttls', '-c', '-t', '60']);
    expect(inapplicableFlags(program, o)).toEqual([]);
  });
});
