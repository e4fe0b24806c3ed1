/** API keys are verified the same way by every service: see shared/src/postgres/api-key-verifier.ts. */
export { ApiKeyVerifier, hashApiKey, type ApiKeyIdentity, type ApiKeyVerifierOptions } from '@flowbill/shared/postgres/api-key-verifier';
