import { readFileSync } from "node:fs";
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";

interface Vectors {
  seeds: Record<"SHA1" | "SHA256" | "SHA512", string>;
  vectors: Array<{ time: number } & Record<"SHA1" | "SHA256" | "SHA512", string>>;
}
const v = JSON.parse(
  readFileSync(new URL("../../test/vectors/rfc6238.json", import.meta.url), "utf8"),
) as Vectors;

describe("RFC 6238 Appendix B", () => {
  for (const algorithm of ["SHA1", "SHA256", "SHA512"] as const) {
    for (const row of v.vectors) {
      it(`AUTH-8: RFC 6238 §B ${algorithm} at T=${row.time} gives ${row[algorithm]}`, () => {
        const totp = new OTPAuth.TOTP({
          algorithm,
          digits: 8,
          period: 30,
          secret: OTPAuth.Secret.fromUTF8(v.seeds[algorithm]),
        });
        expect(totp.generate({ timestamp: row.time * 1000 })).toBe(row[algorithm]);
      });
    }
  }
});
