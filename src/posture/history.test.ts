import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, type TestApp, testApp } from "../../test/harness.js";
import { postureHistory, recordPosture } from "./history.js";
import { type PostureState, postureHash } from "./signed.js";

/** A posture of `n` claims whose values carry `tag`, with titles `long` characters long. */
const state = (tag: string, n = 3, long = 20): PostureState => ({
  product: "Bulwark",
  profile: "test",
  controls: Array.from({ length: n }, (_, i) => ({
    id: `EXT-${i + 1}`,
    title: `Claim ${i} `.padEnd(long, "x"),
    claim: `Claim number ${i}, as configured.`,
    settings: { tag, i },
  })),
});

describe(`the chain of postures (${ENGINE})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
    await t.app.bulwark.posture.settled();
  });
  afterAll(async () => t.close());

  it("POST-4: eight servers starting at once with different postures each add one link: the chain never forks", async () => {
    const audit = t.app.bulwark.service("audit");
    const before = await postureHistory(t.db, 100);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => recordPosture(t.db, audit, state(`node-${i}`), Date.now())),
    );
    expect(results).toEqual(Array(8).fill(true));
    const chain = (await postureHistory(t.db, 100)).reverse();
    expect(chain).toHaveLength(before.length + 8);
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.previous).toBe(chain[i - 1]!.hash);
    // The posture last chained, again (a node restarting unchanged): no new link.
    const lastNode = Array.from({ length: 8 }, (_, i) => state(`node-${i}`)).find(
      (p) => postureHash(p) === chain.at(-1)!.hash,
    )!;
    expect(await recordPosture(t.db, audit, lastNode, Date.now())).toBe(false);
    expect(await postureHistory(t.db, 100)).toHaveLength(chain.length);
  });

  it("POST-4: a change too large for one audit entry is still chained, and its entry says how many claims changed", async () => {
    const audit = t.app.bulwark.service("audit");
    expect(await recordPosture(t.db, audit, state("small", 3), Date.now())).toBe(true);
    expect(await recordPosture(t.db, audit, state("huge", 400, 80), Date.now())).toBe(true);
    const [latest] = await postureHistory(t.db, 1);
    expect(latest!.changed).toHaveLength(403); // the 3 claims' titles changed: 3 gone, 400 new
    const [entry] = await audit.query({ log: "platform", action: "posture.changed" }, 1);
    const e = JSON.parse(entry!.entry!);
    expect(e.after.hash).toBe(latest!.hash);
    expect(e.metadata).toEqual({ changedCount: 403 });
  });
});

describe("the chain with the audit log off", () => {
  it("POST-4: with AUDIT_LOG=off the change is still chained and listed", async () => {
    const t = await testApp({ AUDIT_LOG: "off" });
    try {
      await t.app.bulwark.posture.settled();
      const history = (await t.app.inject({ url: "/security.json" })).json().history;
      expect(history).toHaveLength(1);
      expect(history[0].previous).toBeNull();
    } finally {
      await t.close();
    }
  });
});
