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
}

const ID = /^[A-Z]+-\d+$/;

export class PostureRegistry {
  private readonly controls = new Map<string, Control>();

  /** Registers (or replaces) the control with this id and title. */
  register(control: Control): void {
    if (!ID.test(control.id)) throw new Error(`posture: "${control.id}" is not a requirement ID`);
    this.controls.set(`${control.id}\u0000${control.title}`, Object.freeze({ ...control }));
  }

  /** The controls that are on, in requirement order (area, then number). */
  claims(): Control[] {
    return [...this.controls.values()]
      .filter((c) => c.enabled)
      .sort((a, b) => {
        const [pa, na] = a.id.split("-") as [string, string];
        const [pb, nb] = b.id.split("-") as [string, string];
        return pa === pb ? Number(na) - Number(nb) : pa.localeCompare(pb);
      });
  }
}
