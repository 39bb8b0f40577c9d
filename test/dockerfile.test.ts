import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * OPS-2: the image cannot be built on CI machines (no base image), so what can be checked without one is:
 * its final stage runs the package's own entry point in production, as an unprivileged user, with the
 * data directory as its volume. The server's own refusal to run as root is proven in src/jobs/jobs.test.ts.
 */
describe("the Dockerfile (OPS-2)", () => {
  const text = readFileSync(new URL("../Dockerfile", import.meta.url), "utf8");
  const stages = text.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? "";
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    bin: Record<string, string>;
  };

  it("OPS-2: the image runs the package's entry point in production as the unprivileged node user, data on a volume", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const users = [...final.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe("node");
    expect(final).toMatch(/NODE_ENV=production/);
    expect(final).toMatch(/BULWARK_DATA_DIR=\/data/);
    expect(final).toMatch(/^VOLUME \["\/data"\]/m);
    expect(final).toMatch(/^RUN mkdir \/data && chown node:node \/data$/m);
    // Everything after USER runs unprivileged: no RUN may follow it.
    expect(final.slice(final.lastIndexOf("USER node"))).not.toMatch(/^RUN /m);
    const entry = /^ENTRYPOINT \["node", "([^"]+)"\]/m.exec(final)?.[1];
    expect(entry).toBe(pkg.bin.bulwark);
    expect(final).toMatch(/^CMD \["start"\]/m);
  });
});
