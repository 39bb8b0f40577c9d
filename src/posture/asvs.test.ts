import { describe, expect, it } from "vitest";
import {
  ASVS_MAP,
  ASVS_REQUIREMENTS,
  ASVS_VERSION,
  asvsCoverage,
  asvsOf,
  asvsRequirement,
  NOT_APPLICABLE,
} from "./asvs.js";

const ALL = Object.keys(ASVS_MAP);
const mapped = new Set(Object.values(ASVS_MAP).flat());

describe("ASVS 5.0 mapping", () => {
  it("POST-4: the catalogue is the ASVS 5.0.0 release, levels 1 to 3, each ID once", () => {
    expect(ASVS_VERSION).toBe("5.0.0");
    const ids = ASVS_REQUIREMENTS.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const count = (l: number) => ASVS_REQUIREMENTS.filter((r) => r.level === l).length;
    // The release's own totals: 70 at L1, 183 at L2, 92 at L3 (345).
    expect([count(1), count(2), count(3)]).toEqual([70, 183, 92]);
    for (const r of ASVS_REQUIREMENTS) {
      expect(r.id).toMatch(/^V([1-9]|1[0-7])\.\d+\.\d+$/);
      expect(r.text.length).toBeGreaterThan(0);
      expect(r.text.length).toBeLessThanOrEqual(200);
      expect(r.chapter && r.section).toBeTruthy();
    }
  });

  it("POST-4: every mapped and every not-applicable ID exists in the 5.0.0 catalogue", () => {
    for (const id of [...mapped, ...Object.keys(NOT_APPLICABLE)])
      expect(asvsRequirement(id), id).toBeDefined();
  });

  it("POST-4: keys are requirement IDs; nothing is both mapped and not applicable", () => {
    for (const key of ALL) expect(key).toMatch(/^[A-Z]+-\d+$/);
    for (const ids of Object.values(ASVS_MAP)) expect(ids.length).toBeGreaterThan(0);
    for (const id of mapped) expect(Object.hasOwn(NOT_APPLICABLE, id), id).toBe(false);
  });

  it("POST-4: not-applicable entries are L1/L2 requirements, each with a reason", () => {
    for (const [id, reason] of Object.entries(NOT_APPLICABLE)) {
      expect(asvsRequirement(id)?.level, id).toBeLessThanOrEqual(2);
      expect(reason.length, id).toBeGreaterThan(10);
    }
  });

  it("POST-4: with every control on, covered + not covered = applicable, at each level", () => {
    for (const level of [1, 2, 3]) {
      const c = asvsCoverage(ALL, level);
      const inScope = ASVS_REQUIREMENTS.filter((r) => r.level <= level).length;
      expect(c.level).toBe(level);
      expect(c.covered.length + c.notCovered.length).toBe(c.applicable);
      expect(c.applicable + c.notApplicable).toBe(inScope);
      expect(new Set([...c.covered, ...c.notCovered.map((n) => n.id)]).size).toBe(c.applicable);
      for (const id of c.covered) expect(asvsRequirement(id)!.level).toBeLessThanOrEqual(level);
    }
    expect(asvsCoverage(ALL).level).toBe(2);
  });

  it("POST-4: with no control on, nothing is covered", () => {
    const c = asvsCoverage([]);
    expect(c.covered).toEqual([]);
    expect(c.notCovered).toHaveLength(c.applicable);
  });

  it("POST-4: switching a control off removes the ASVS IDs only it covers", () => {
    const full = new Set(asvsCoverage(ALL, 3).covered);
    for (const off of ALL) {
      const others = ALL.filter((k) => k !== off);
      const still = new Set(others.flatMap(asvsOf));
      const covered = new Set(asvsCoverage(others, 3).covered);
      for (const id of asvsOf(off)) {
        if (!Object.hasOwn(NOT_APPLICABLE, id)) expect(full.has(id), id).toBe(true);
        expect(covered.has(id), `${off} off: ${id}`).toBe(still.has(id));
      }
    }
    // A concrete case: HSTS is HDR-2's alone.
    expect(asvsCoverage(ALL.filter((k) => k !== "HDR-2")).covered).not.toContain("V3.4.1");
    expect(asvsCoverage(ALL.filter((k) => k !== "HDR-2")).notCovered.map((n) => n.id)).toContain("V3.4.1");
  });

  it("POST-4: asvsOf answers unknown and unmapped IDs with nothing", () => {
    expect(asvsOf("HDR-2")).toEqual(["V3.4.1"]);
    expect(asvsOf("NOPE-1")).toEqual([]);
    expect(asvsOf("toString")).toEqual([]);
    expect(asvsCoverage(["NOPE-1", "toString"]).covered).toEqual([]);
  });
});
