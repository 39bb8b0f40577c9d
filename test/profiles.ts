import type { InjectOptions } from "fastify";
import { PRODUCTION_ENV, type TestApp } from "./harness.js";

/**
 * The two profiles a finding is reproduced in: development, and production behind a trusted proxy that
 * terminates TLS (as deployed). Tests that hold in both run once per profile.
 */
export const PROFILES = [
  ["development", {}],
  ["production", { ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" }],
] as const satisfies ReadonlyArray<readonly [string, Record<string, string>]>;

/**
 * In production every request must arrive over HTTPS: make every injected request of `t` arrive as it
 * would through the trusted proxy: from 127.0.0.1 with `X-Forwarded-Proto: https`, and a client address
 * the test chose (`remoteAddress`) carried in `X-Forwarded-For`, as the proxy would.
 */
export function throughProxy(t: TestApp, profile: string): TestApp {
  if (profile !== "production") return t;
  const inject = t.app.inject.bind(t.app) as (o: InjectOptions) => ReturnType<TestApp["app"]["inject"]>;
  Object.defineProperty(t.app, "inject", {
    value: (o: InjectOptions) =>
      inject({
        ...o,
        remoteAddress: "127.0.0.1",
        headers: {
          "x-forwarded-proto": "https",
          ...(o.remoteAddress && o.remoteAddress !== "127.0.0.1"
            ? { "x-forwarded-for": o.remoteAddress }
            : {}),
          ...o.headers,
        },
      }),
  });
  return t;
}
