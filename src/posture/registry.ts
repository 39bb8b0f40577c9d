/**
 * The security page's source of truth (POST-1). Each capability registers the controls it runs, with the
 * numbers the configuration gave them; the page and its JSON are rendered from this registry only, so a
 * claim exists exactly when the code that backs it is switched on.
 */
export type SettingValue = string | number | boolean | readonly string[];

export interface Control {
  /** Requirement ID from REQUIREMENTS.md, e.g. `HDR-2`. */
  readonly id: string;
  /** Short name shown as the heading of the claim. */
  readonly title: string;
  /** The claim, in one or two plain sentences, stating configured numbers. */
  readonly claim: string;
  /** The configured values behind the claim. */
  readonly settings?: Readonly<Record<string, SettingValue>>;
  /** A control that is off is not claimed. */
  readonly enabled: boolean;
  /**
   * POST-3: checks the claim against the running server's behaviour. Resolves when the claim holds; throws
   * an error saying what was seen instead when it does not.
   */
  readonly probe?: Probe;
}

/** What a probe answers through: the server's own HTTP stack, in process (see `checks.ts`). */
export interface ProbeContext {
  request(req: ProbeRequest): Promise<ProbeResponse>;
  /** The current time, from the server's clock. */
  now(): number;
}
export interface ProbeRequest {
  readonly method?: "GET" | "HEAD" | "OPTIONS";
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Send it as plain HTTP (default: as it arrives in this deployment over HTTPS). */
  readonly plain?: boolean;
}
export interface ProbeResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly body: string;
}
export type Probe = (p: ProbeContext) => Promise<void>;

/** The last self-check of a claim: when it ran and whether the claim held. */
export interface CheckOutcome {
  readonly holds: boolean;
  readonly checkedAt: string;
  /** What was seen when the claim did not hold. */
  readonly detail?: string;
}

const ID = /^[A-Z]+-\d+$/;

export class PostureRegistry {
  private readonly controls = new Map<string, Control>();
  private readonly outcomes = new Map<string, CheckOutcome>();
  private pending: Promise<void> = Promise.resolve();
  /** Bumped with every outcome recorded (its time changes too), so renderings are cached until then. */
  revision = 0;

  /** Registers (or replaces) the control with this id and title. */
  register(control: Control): void {
    if (!ID.test(control.id)) throw new Error(`posture: "${control.id}" is not a requirement ID`);
    this.controls.set(key(control), Object.freeze({ ...control }));
  }

  /** The last self-check of this control, if it has a probe that has run. */
  outcome(control: Pick<Control, "id" | "title">): CheckOutcome | undefined {
    return this.outcomes.get(key(control));
  }

  /** Records a self-check's outcome (POST-3). */
  record(control: Control, outcome: CheckOutcome): void {
    this.outcomes.set(key(control), outcome);
    this.revision++;
  }

  /** The claims whose last self-check did not hold. */
  failing(): Control[] {
    return this.claims().filter((c) => this.outcomes.get(key(c))?.holds === false);
  }

  /** Tracks a run of the self-checks; `settled()` resolves once it (and any before it) has finished. */
  track(run: Promise<void>): void {
    this.pending = Promise.all([this.pending, run]).then(() => undefined);
  }

  settled(): Promise<void> {
    return this.pending;
  }

  /** The controls that are on, in requirement order (area, then number). */
  claims(): Control[] {
    return [...this.controls.values()]
      .filter((c) => c.enabled)
      .sort((a, b) => {
        const [pa, na] = a.id.split("-") as [string, string];
        const [pb, nb] = b.id.split("-") as [string, string];
        // Code-unit order, never the locale's: the order is part of the signed posture (POST-4).
        return pa === pb ? Number(na) - Number(nb) : pa < pb ? -1 : 1;
      });
  }
}

const key = (c: Pick<Control, "id" | "title">): string => `${c.id}\u0000${c.title}`;
