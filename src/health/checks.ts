/** One dependency the service needs: how to probe it, and whether its failure makes the service unhealthy. */
export interface HealthCheck {
  readonly name: string;
  /** A required dependency that is down turns /health into 503. */
  readonly required: boolean;
  /** Not a dependency (the security claims' self-checks): left out of `names`, and not logged at each
   * poll, its failure being logged once where it is found. */
  readonly quiet?: boolean;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  probe(): Promise<void>;
}

export interface CheckResult {
  status: "up" | "down";
  latencyMs: number;
  required: boolean;
  error?: string;
}

/** The dependencies /health reports (OBS-4). Capabilities add theirs: database, Redis, mail, … */
export class HealthChecks {
  private readonly checks: HealthCheck[] = [];

  add(check: HealthCheck): void {
    this.checks.push(check);
  }

  /** The dependencies checked (quiet checks are not dependencies). */
  get names(): string[] {
    return this.checks.filter((c) => !c.quiet).map((c) => c.name);
  }

  quiet(name: string): boolean {
    return this.checks.some((c) => c.name === name && c.quiet);
  }

  /** Runs every probe concurrently, each bounded by `timeoutMs`. */
  async run(timeoutMs = 2000): Promise<{ healthy: boolean; checks: Record<string, CheckResult> }> {
    const results = await Promise.all(this.checks.map((c) => runOne(c, timeoutMs)));
    const checks: Record<string, CheckResult> = {};
    this.checks.forEach((c, i) => {
      checks[c.name] = results[i]!;
    });
    return { healthy: results.every((r) => r.status === "up" || !r.required), checks };
  }
}

async function runOne(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: "up", latencyMs: round(performance.now() - start), required: check.required };
  } catch (err) {
    return {
      status: "down",
      latencyMs: round(performance.now() - start),
      required: check.required,
      error: (err as Error).message,
    };
  } finally {
    clearTimeout(timer);
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
