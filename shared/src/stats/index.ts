export * from './latency-buckets.js';
export * from './outcome.js';
