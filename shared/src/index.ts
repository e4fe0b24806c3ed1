export * from './ip/index.js';
