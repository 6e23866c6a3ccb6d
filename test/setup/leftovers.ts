import { afterAll } from 'vitest';
import { killLeftovers } from '../fixtures/daemon.js';

// A failed assertion skips the test's own stop(); no daemon may outlive its test file.
afterAll(() => killLeftovers());
