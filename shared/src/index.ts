export * from './backoff.js';
export * from './defaults.js';
export * from './duration.js';
export * from './errors.js';
export * from './log.js';
export * from './proto.js';
export * from './types.js';
export * from './validate.js';
