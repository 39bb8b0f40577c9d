import type { LightMyRequestResponse } from "fastify";
import { Webhook } from "standardwebhooks";
import { expect } from "vitest";
import type { WebhookDispatcher } from "../src/webhooks/dispatcher.js";
import { createUser, login, type TestApp, testApp } from "./harness.js";
import { Receiver } from "./webhook-receiver.js";

type H = Record<string, string>;
type Options = NonNullable<Parameters<typeof testApp>[2]>;

export interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  messageId: string;
  endpointId: string;
}

/**
 * One organisation with an owner, a local receiver on 127.0.0.1 (allowlisted) and the app's own
 * dispatcher driven by hand (`WEBHOOK_WORKER=off`): what every webhook test starts from.
 */
export interface WebhookWorld {
  t: TestApp;
  rx: Receiver;
  org: string;
  owner: H;
  dispatcher: WebhookDispatcher;
  call(method: string, url: string, payload?: object, headers?: H): Promise<LightMyRequestResponse>;
  /** Creates an endpoint on the receiver (201 asserted); returns the API's answer, secret included. */
  endpoint(body?: object): Promise<{ endpoint: { id: string }; secret: string }>;
  deliveries(query?: string): Promise<DeliveryRow[]>;
  /** No endpoint, an idle queue, an empty receiver answering 204: each test starts here. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function webhookWorld(
  name: string,
  env: Record<string, string> = {},
  options: Options = {},
): Promise<WebhookWorld> {
  const rx = await new Receiver().start();
  const t = await testApp(
    { BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1", WEBHOOK_WORKER: "off", ...env },
    undefined,
    options,
  );
  const password = `${name} passphrase for webhooks`;
  await createUser(t, "owner@example.org", password);
  const o = await login(t, "owner@example.org", password);
  const owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
  const call: WebhookWorld["call"] = (method, url, payload, headers = owner) =>
    t.app.inject({ method: method as "GET", url, headers, ...(payload ? { payload } : {}) });
  const org = (await call("POST", "/v1/orgs", { name })).json().org.id as string;
  const dispatcher = t.app.bulwark.service("webhookDispatcher");
  return {
    t,
    rx,
    org,
    owner,
    dispatcher,
    call,
    async endpoint(body = {}) {
      const res = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, { url: `${rx.url}/hook`, ...body });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    },
    async deliveries(query = "") {
      return (await call("GET", `/v1/orgs/${org}/webhook-deliveries?${query}`)).json().deliveries;
    },
    async reset() {
      for (const e of (await call("GET", `/v1/orgs/${org}/webhook-endpoints`)).json().endpoints)
        await call("DELETE", `/v1/orgs/${org}/webhook-endpoints/${e.id}`);
      await dispatcher.fanOut();
      await t.db.global
        .updateTable("webhook_deliveries")
        .set({ status: "dead" })
        .where("status", "in", ["pending", "sending"])
        .execute();
      rx.got.length = 0;
      rx.answer = () => ({ status: 204 });
    },
    async close() {
      await t.close();
      await rx.close();
    },
  };
}

/** Polls until `check` holds (bounded; never a timing assertion). */
export async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Verifies with the library at the delivery's own time (the frozen clock may be days ahead). */
export function verifyNow(secret: string, r: { body: string; headers: Record<string, unknown> }) {
  const headers = Receiver.headers(r as never);
  const wh = new Webhook(secret);
  const ts = Number(headers["webhook-timestamp"]);
  const expected = wh.sign(headers["webhook-id"]!, new Date(ts * 1000), r.body);
  if (!headers["webhook-signature"]!.split(" ").includes(expected)) throw new Error("signature mismatch");
  return JSON.parse(r.body) as unknown;
}
