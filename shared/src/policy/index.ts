export * from './policy-crossref.js';
export * from './policy-diff.js';
export * from './policy-external.js';
export * from './policy-header-rules.js';
export * from './policy-regex.js';
export * from './policy-source.js';
export * from './policy-types.js';
export * from './policy-validate.js';
