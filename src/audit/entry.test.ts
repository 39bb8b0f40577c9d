import { describe, expect, it } from "vitest";
import { type AuditEvent, canonical, entryOf, entryText } from "./entry.js";

/** The definition, written the plain way: sorted keys at every depth, undefined members left out. */
function reference(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`)
    .join(",")}}`;
}

const events: AuditEvent[] = [
  { action: "product.created", actor: { type: "API_KEY", id: "key_1", email: null }, orgId: "org_1" },
  {
    action: "member.role_changed",
    actor: { type: "USER", id: "usr_1", email: "zoë@example.org" },
    impersonator: "adm_1",
    orgId: "org_1",
    entity: { type: "member", id: "usr_2" },
    before: { role: "member", nested: { b: [1, { z: null, a: '\u2028"\\' }], a: undefined } },
    after: { role: "admin", é: true, Z: 0, "": -1.5 },
    metadata: { requestId: "req-1", ip: "2001:db8::1", list: [undefined, "x"] },
  },
  {
    action: "http.request",
    actor: { type: "ANONYMOUS", id: null, email: null },
    request: {
      method: "POST",
      route: "/v1/auth/sign-in",
      status: 401,
      durationMs: 12.34,
      ip: "198.51.100.7",
      userAgent: "curl/8 \u0001",
      requestId: "r",
    },
  },
  {
    action: "x.y",
    actor: { type: "SYSTEM", id: null, email: null },
    entity: { type: "thing", id: undefined as unknown as string },
  },
];

describe("audit entries: canonical bytes", () => {
  it("AUDIT-4: canonical sorts keys at every depth and leaves out undefined members, as the definition says", () => {
    for (const e of events) {
      const entry = entryOf(
        e,
        e.orgId ?? "platform",
        42,
        "aud_01JF3Q5ZX9R7V2K8H4M6W1B3CD",
        1_765_000_000_123,
      );
      expect(canonical(entry)).toBe(reference(entry));
      expect(JSON.parse(canonical(entry))).toEqual(JSON.parse(JSON.stringify(entry)));
    }
  });

  it("AUDIT-4: an entry written field by field is byte for byte its canonical form", () => {
    for (const e of events)
      for (const seq of [0, 7, 123_456_789]) {
        const entry = entryOf(
          e,
          e.orgId ?? "platform",
          seq,
          "aud_01JF3Q5ZX9R7V2K8H4M6W1B3CD",
          1_765_000_000_123,
        );
        expect(entryText(entry)).toBe(reference(entry));
      }
  });
});
