/** Bulwark as a library: build the app, load configuration, and reach the shared services. */
export { type BuildOptions, type BulwarkContext, buildApp, VERSION } from "./app.js";
export { type Config, ConfigError, loadConfig } from "./config/load.js";
export { configSummary } from "./config/summary.js";
export { Database, type Db } from "./db/database.js";
export { enableTenantRls, grantApp, type MigrationContext } from "./db/migrations.js";
export type { Tables } from "./db/tables.js";
export { AppError, ERRORS, type ErrorCode } from "./http/errors.js";
export { sanitizeRichText } from "./input/sanitize.js";
export { type Extension, type TenantContext, TenantRouter } from "./orgs/extension.js";
export { ACTIONS, type Action, can, ROLES, type Role } from "./orgs/permissions.js";
export type { Control, PostureRegistry } from "./posture/registry.js";
export { type Running, start } from "./server.js";
export { newId } from "./util/ids.js";
