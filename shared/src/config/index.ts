export { ConfigError, parseEnv, envBool, envInt, envString, envUrl } from './env.js';
export { storesSchema, loadStoresConfig, type StoresConfig } from './stores.js';
