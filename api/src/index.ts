export { buildApp, type AppDependencies } from './app.js';
export { loadApiConfig, apiConfigSchema, type ApiConfig } from './config.js';
export { hashApiKey } from './auth/api-keys.js';
