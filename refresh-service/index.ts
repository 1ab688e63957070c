// The refresh service's programmatic API (the pilot demo, benchmarks and tests use it; the
// commands in refresh-service/commands are thin wrappers around it).
export { loadServiceConfig, parseServiceConfig, DEFAULT_CONFIG, type ServiceConfig, type RateLimitConfig } from './config.ts';
export { startRefreshService, type StartOptions, type RunningService } from './server.ts';
export { registerPilot, type RegisterOptions } from './register.ts';
export { revokePilots, type RevokeOptions } from './revoke.ts';
export { rotateSigningKey, loadSigningKeys, publicKeyPem } from './signing-keys.ts';
export { createPoolKeyFile } from '../shared/idtoken.ts';
export type { StateStore } from './state/store.ts';
