import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// src/cli and dist/cli both sit two levels below package.json.
export const VERSION: string = (require('../../package.json') as { version: string }).version;
