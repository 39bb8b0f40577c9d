import type { FieldError } from "../http/errors.js";
import { isCommonPassword, type RangeChecker } from "./breach.js";
import { strengthProblems } from "./strength.js";

export interface PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
  readonly requireMixed: boolean;
}

/**
 * Checks a new password against the policy (AUTH-2) and returns the field errors, empty when it passes:
 * length, the offline breached list, strength (not guessable, not containing the account's email or
 * name: `context`), then the optional range service. The maximum length bounds hashing work (a 1 MB
 * "password" would be a denial of service).
 */
export async function checkPassword(
  password: string,
  policy: PasswordPolicy,
  field: string,
  range?: RangeChecker,
  context: { email?: string; name?: string } = {},
): Promise<FieldError[]> {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < policy.minLength) problems.push(`must be at least ${policy.minLength} characters`);
  if (length > policy.maxLength) problems.push(`must be at most ${policy.maxLength} characters`);
  if (policy.requireMixed && !(/\d/.test(password) && /\p{Lu}/u.test(password)))
    problems.push("must contain a digit and an upper-case letter");
  if (problems.length === 0 && isCommonPassword(password))
    problems.push("is a commonly used, breached password");
  if (problems.length === 0) problems.push(...strengthProblems(password, context));
  if (problems.length === 0 && range) {
    const seen = await range.count(password);
    if (seen) problems.push(`has appeared in ${seen} data breaches`);
  }
  return problems.map((message) => ({ in: "body", field, message }));
}
