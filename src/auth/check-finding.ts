/** What `--check` found about one thing: fine, worth knowing, or something a start or first request would trip on. */
export interface Finding {
  readonly level: 'ok' | 'warning' | 'error';
  /** One line for the admin; names the file, flag or server. Never a secret. */
  readonly text: string;
}

export const found = {
  ok: (text: string): Finding => ({ level: 'ok', text }),
  warning: (text: string): Finding => ({ level: 'warning', text }),
  error: (text: string): Finding => ({ level: 'error', text }),
};
