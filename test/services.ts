import { existsSync } from "node:fs";

/**
 * Tests that need a real service run when it is there and are skipped when it is not, so `npm test` needs
 * nothing. CI names what it provides in BULWARK_REQUIRE_SERVICES (e.g. "postgres,redis"): there a test
 * that would be skipped for one of those fails instead, so a missing service can never pass silently.
 */
export type Service = "postgres" | "redis" | "chromium" | "pg-restart";

const REQUIRED = new Set(
  (process.env.BULWARK_REQUIRE_SERVICES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const AVAILABLE: Record<Service, () => boolean> = {
  postgres: () => Boolean(process.env.TEST_DATABASE_URL),
  redis: () => Boolean(process.env.TEST_REDIS_URL),
  chromium: () => existsSync(CHROMIUM),
  "pg-restart": () => Boolean(process.env.TEST_DATABASE_URL) && process.env.TEST_PG_RESTART === "1",
};

/** Whether the tests needing `service` can run; throws when CI requires it and it is missing. */
export function needs(service: Service): boolean {
  const ok = AVAILABLE[service]();
  if (!ok && REQUIRED.has(service))
    throw new Error(
      `${service} is required in this run (BULWARK_REQUIRE_SERVICES=${[...REQUIRED].join(",")}) but is not available: a test that needs it would have been skipped.`,
    );
  return ok;
}

/** Debian's Chromium, headless, with nothing that reaches the network on its own (no network in CI). */
export async function launchChromium(): Promise<import("playwright-core").Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
