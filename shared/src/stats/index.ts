export * from './latency-buckets.js';
export * from './outcome.js';
export * from './stats-api.js';
