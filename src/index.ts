/**
 * Bulwark as a library: build or start the app, load configuration, register extensions (tenant routes
 * with their own actions, error codes and tables), and reach the shared services. Everything an
 * extension needs is exported here; augment `Actions`, `ErrorCodes`, `Tables` or `PrincipalKinds` with
 * `declare module "bulwark" { … }`. The command line is `bulwark/cli` (`runCli(argv, { extensions })`).
 */
export { type BuildOptions, buildApp, bulwarkMigrations, capabilities, VERSION } from "./app.js";
export type { CredentialResolver, TenantAccess, TenantCheck } from "./auth/pipeline.js";
export type { Principal, PrincipalKind, PrincipalKinds, Tenancy } from "./auth/principal.js";
export {
  ADMIN,
  AUTH_SURFACE,
  type CorsPolicy,
  type EffectiveSecurity,
  PROBE,
  PUBLIC,
  type RateTier,
  type RouteSecurity,
  tenant,
  USER,
  USER_CREDENTIALS,
} from "./auth/requirements.js";
export type { RegisteredRoute, RouteTable } from "./auth/table.js";
export type { Capability } from "./capability.js";
export { type Config, ConfigError, loadConfig } from "./config/load.js";
export { configSummary } from "./config/summary.js";
export type { BulwarkContext, Services } from "./context.js";
export type { SealedField } from "./crypto/seal.js";
export { Database, type Db } from "./db/database.js";
export { enableTenantRls, grantApp, type MigrationContext } from "./db/migrations.js";
export type { Tables } from "./db/tables.js";
export { checkedSql, TenantScopeError } from "./db/tenant-scope.js";
export { AppError, ERRORS, type ErrorCode, type ErrorCodes, type ErrorDefinition } from "./http/errors.js";
export { sanitizeRichText } from "./input/sanitize.js";
export {
  type Extension,
  extensionCapability,
  type TenantContext,
  type TenantRouteDefinition,
  TenantRouter,
} from "./orgs/extension.js";
export {
  type Action,
  type Actions,
  CORE_ACTIONS,
  PermissionTable,
  ROLES,
  type Role,
} from "./orgs/permissions.js";
export type { Control, PostureRegistry } from "./posture/registry.js";
export type { PersonalData } from "./privacy/personal.js";
export { type Running, type StartOptions, start } from "./server.js";
export type { AttachedUpload } from "./uploads/service.js";
export { newId } from "./util/ids.js";
export {
  InboundSignatureError,
  receiveOnce,
  verifyStandardWebhook,
  verifyStripe,
} from "./webhooks/inbound.js";
