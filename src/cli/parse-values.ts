import { InvalidArgumentError } from 'commander';

/** Commander value parsers: each names the bad value so the admin sees what to fix. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`'${value}' is not a whole number.`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`'${value}' must be between ${min} and ${max}.`);
    return n;
  };
}

export function octalMode(value: string): number {
  if (!/^0?[0-7]{3,4}$/.test(value)) throw new InvalidArgumentError(`'${value}' is not an octal file mode such as 0660.`);
  return parseInt(value, 8);
}

export function absolutePath(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError(`requires an absolute pathname, got '${value}'.`);
  return value;
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`'${value}' is not one of ${choices.join(', ')}.`);
    }
    return value as T;
  };
}

/** Comma-separated values; repeating the flag adds to the list. */
export function list(value: string, previous: string[]): string[] {
  const items = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
  if (items.length === 0) throw new InvalidArgumentError(`'${value}' names nothing.`);
  return [...previous, ...items];
}
