import { VARIABLES, type VarName, type VarSpec } from "./variables.js";

const SPECS = new Map<string, VarSpec>(VARIABLES.map((v) => [v.name, v]));
const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];

/**
 * Typed reads of configuration variables, with the profile's defaults. A bad value never throws here:
 * it records a problem naming the variable and returns the default, so every problem is reported at once.
 */
export class VarReader {
  constructor(
    private readonly raw: Partial<Record<VarName, string>>,
    private readonly production: boolean,
    readonly problems: string[],
  ) {}

  /** The set value, else the profile's default (`<PORT>` in a default stands for the configured port). */
  str(name: VarName): string | undefined {
    const spec = SPECS.get(name)!;
    const set = this.raw[name];
    if (set !== undefined) return set;
    const def = this.production && spec.prod !== undefined ? spec.prod : spec.dev;
    return def?.includes("<PORT>") ? def.replaceAll("<PORT>", String(this.port())) : def;
  }

  private port(): number {
    const v = this.raw.PORT ?? SPECS.get("PORT")!.dev!;
    return /^\d+$/.test(v) ? Number(v) : 3000;
  }

  int(name: VarName): number {
    const spec = SPECS.get(name)!;
    const v = this.str(name) ?? "";
    const n = Number(v);
    if (
      !/^-?\d+$/.test(v) ||
      (spec.min !== undefined && n < spec.min) ||
      (spec.max !== undefined && n > spec.max)
    ) {
      this.problems.push(
        `${name}: must be an integer${spec.min !== undefined ? ` >= ${spec.min}` : ""}${spec.max !== undefined ? ` <= ${spec.max}` : ""} (got "${v}")`,
      );
      return Number(spec.dev ?? 0);
    }
    return n;
  }

  bool(name: VarName): boolean {
    const v = (this.str(name) ?? "false").toLowerCase();
    if (![...TRUE, ...FALSE].includes(v)) this.problems.push(`${name}: must be true or false (got "${v}")`);
    return TRUE.includes(v);
  }

  list(name: VarName): string[] {
    return (this.str(name) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }

  oneOf(name: VarName): string {
    const spec = SPECS.get(name)!;
    const v = this.str(name) ?? "";
    if (!spec.values?.includes(v))
      this.problems.push(`${name}: must be one of ${spec.values?.join(", ")} (got "${v}")`);
    return v;
  }

  url(name: VarName, protocols: readonly string[]): string | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol))
        this.problems.push(`${name}: must use ${protocols.join(" or ")} (got ${u.protocol})`);
    } catch {
      this.problems.push(`${name}: not a valid URL`);
    }
    return v;
  }
}
