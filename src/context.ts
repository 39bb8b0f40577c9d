import type { Redis } from "ioredis";
import type { GuardPipeline } from "./auth/pipeline.js";
import type { RegisteredRoute, RouteTable } from "./auth/table.js";
import type { Config } from "./config/load.js";
import type { Database } from "./db/database.js";
import type { HealthChecks } from "./health/checks.js";
import type { Logger } from "./log/logger.js";
import type { MetricsRegistry } from "./metrics/registry.js";
import type { PermissionTable } from "./orgs/permissions.js";
import type { PostureRegistry } from "./posture/registry.js";
import type { InvalidationBus } from "./state/bus.js";

/**
 * The services capabilities offer each other, by name. Each capability adds its own entry:
 *
 *   declare module "../context.js" { interface Services { identity: IdentityService } }
 *
 * A capability reaches another only through this (never through its tables), and only after it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each capability.
export interface Services {}

/** What every capability receives: the frozen configuration and the shared machinery. */
export interface BulwarkContext {
  readonly config: Config;
  readonly db: Database;
  readonly redis: Redis | undefined;
  readonly log: Logger;
  readonly posture: PostureRegistry;
  readonly metrics: MetricsRegistry;
  readonly health: HealthChecks;
  /** Cross-node cache invalidation (Redis pub/sub when configured). */
  readonly bus: InvalidationBus;
  /** The one permission table: core actions plus every extension's. */
  readonly permissions: PermissionTable;
  /** The route table: every route's requirements. */
  readonly routeTable: RouteTable;
  /** Every route as registered, with its row of the route table: for docs, the security page and test suites. */
  readonly routes: readonly RegisteredRoute[];
  /** The guard pipeline: credential kinds and the tenant check plug in here. */
  readonly guard: GuardPipeline;
  /** The service a capability registered earlier; throws if it is not (yet) there. */
  service<K extends keyof Services>(name: K): Services[K];
  /** Offers a service to the capabilities registered after this one. */
  provide<K extends keyof Services>(name: K, service: Services[K]): void;
}

declare module "fastify" {
  interface FastifyInstance {
    bulwark: BulwarkContext;
  }
}
