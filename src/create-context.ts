import type { Redis } from "ioredis";
import { GuardPipeline } from "./auth/pipeline.js";
import { RouteTable } from "./auth/table.js";
import type { Config } from "./config/load.js";
import type { BulwarkContext, Services } from "./context.js";
import type { Database } from "./db/database.js";
import { HealthChecks } from "./health/checks.js";
import type { Logger } from "./log/logger.js";
import { MetricsRegistry } from "./metrics/registry.js";
import { PermissionTable } from "./orgs/permissions.js";
import { PostureRegistry } from "./posture/registry.js";
import { InvalidationBus } from "./state/bus.js";

/** A fresh context for one app: its own registries, route table, guard and service directory. */
export function createContext(deps: {
  config: Config;
  db: Database;
  redis: Redis | undefined;
  log: Logger;
}): BulwarkContext {
  const services = new Map<keyof Services, unknown>();
  const routeTable = new RouteTable();
  return {
    ...deps,
    posture: new PostureRegistry(),
    metrics: new MetricsRegistry(),
    health: new HealthChecks(),
    bus: new InvalidationBus(deps.redis),
    permissions: new PermissionTable(),
    routeTable,
    get routes() {
      return routeTable.routes;
    },
    guard: new GuardPipeline(),
    service(name) {
      const s = services.get(name);
      if (s === undefined)
        throw new Error(`Service "${String(name)}" is not registered yet: register its capability first.`);
      return s as Services[typeof name];
    },
    provide(name, service) {
      if (services.has(name)) throw new Error(`Service "${String(name)}" is provided twice.`);
      services.set(name, service);
    },
  };
}
