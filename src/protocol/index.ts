export * from './limits.js';
export * from './request-decoder.js';
export * from './request-encoder.js';
export * from './reply.js';
export * from './validate.js';
