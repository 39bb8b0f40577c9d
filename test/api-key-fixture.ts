import { vi } from "vitest";
import type { CredentialFixture, Headers, World } from "./security-suite.js";

/** A dead or pinned key the suite must see refused on every route that accepts API keys. */
export interface Refusal {
  readonly label: string;
  readonly headers: Headers;
  readonly status: number;
  readonly code: string;
  readonly remoteAddress?: string;
}

const memo = new WeakMap<World, Map<string, Promise<string>>>();

/** Creates a key through the API as the organisation's owner (memoised per world and label). */
export function keyFor(
  w: World,
  org: "A" | "B",
  label: string,
  body: Record<string, unknown>,
): Promise<string> {
  const m = memo.get(w) ?? new Map<string, Promise<string>>();
  memo.set(w, m);
  const id = `${org}:${label}`;
  let key = m.get(id);
  if (!key) {
    key = w
      .call(
        "POST",
        `/v1/orgs/${org === "A" ? w.orgA : w.orgB}/api-keys`,
        org === "A" ? w.sessions.ownerA : w.sessions.ownerB,
        {
          name: label,
          ...body,
        },
      )
      .then((res) => {
        if (res.statusCode !== 201)
          throw new Error(`creating key ${label}: ${res.statusCode} ${JSON.stringify(res.json())}`);
        return res.json().key as string;
      });
    m.set(id, key);
  }
  return key;
}

const all = (w: World) => [...w.t.app.bulwark.service("apiKeys").scopes()];
const bearer = (key: string): Headers => ({ authorization: `Bearer ${key}` });

/** Organisation API keys (KEY-1, KEY-2): a key with every scope; for a missing action, every scope but it. */
export const apiKeyFixture: CredentialFixture & { refusals(w: World): Promise<Refusal[]> } = {
  kind: "api_key",
  full: async (w, org) => ({ "x-api-key": await keyFor(w, org, "full", { scopes: all(w) }) }),
  lacking: async (w, action) => [
    {
      label: `scopes without ${action}`,
      headers: bearer(
        await keyFor(w, "A", `without ${action}`, { scopes: all(w).filter((a) => a !== action) }),
      ),
    },
  ],
  /**
   * KEY-4…KEY-7: revoked, expired, rotated past its grace, pinned to another origin or address, and
   * values that are not keys at all. Expiry and grace are crossed with a frozen clock.
   */
  async refusals(w) {
    const scopes = all(w);
    const a = `/v1/orgs/${w.orgA}/api-keys`;
    const owner = w.sessions.ownerA;
    const revoked = await keyFor(w, "A", "revoked", { scopes });
    const listed = (await w.call("GET", a, owner)).json().apiKeys as Array<{ id: string; name: string }>;
    await w.call("DELETE", `${a}/${listed.find((k) => k.name === "revoked")!.id}`, owner);

    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const expired = await keyFor(w, "A", "expiring", {
      scopes,
      expiresAt: new Date(start + 60_000).toISOString(),
    });
    const old = await keyFor(w, "A", "rotated", { scopes });
    const rotatedId = (await w.call("GET", a, owner))
      .json()
      .apiKeys.find((k: { name: string }) => k.name === "rotated").id;
    const rotated = await w.call("POST", `${a}/${rotatedId}/rotate`, owner, { gracePeriodSeconds: 30 });
    if (rotated.statusCode !== 201) throw new Error(`rotate: ${rotated.body}`);
    // Both boundaries crossed: the expiring key's (60 s) and the rotation's grace (30 s).
    vi.setSystemTime(start + 60_000);
    const pinnedOrigin = await keyFor(w, "A", "pinned origin", {
      scopes,
      allowedOrigins: ["https://app.example.org"],
    });
    const pinnedIp = await keyFor(w, "A", "pinned ip", {
      scopes,
      allowedIps: ["203.0.113.0/24", "2001:db8::/32"],
    });
    const good = await keyFor(w, "A", "full", { scopes });
    const typo = `${good.slice(0, 10)}${good[10] === "a" ? "b" : "a"}${good.slice(11)}`;
    return [
      { label: "revoked", headers: bearer(revoked), status: 401, code: "UNAUTHENTICATED" },
      { label: "expired", headers: bearer(expired), status: 401, code: "UNAUTHENTICATED" },
      { label: "rotated past grace", headers: bearer(old), status: 401, code: "UNAUTHENTICATED" },
      {
        label: "pinned to another origin",
        headers: { ...bearer(pinnedOrigin), origin: "https://evil.example" },
        status: 403,
        code: "API_KEY_ORIGIN_DENIED",
      },
      {
        label: "outside the IP allowlist",
        headers: bearer(pinnedIp),
        remoteAddress: "198.51.100.7",
        status: 403,
        code: "API_KEY_IP_DENIED",
      },
      { label: "malformed", headers: { "x-api-key": "bwk_short" }, status: 401, code: "UNAUTHENTICATED" },
      { label: "bad checksum", headers: { "x-api-key": typo }, status: 401, code: "UNAUTHENTICATED" },
    ];
  },
};
