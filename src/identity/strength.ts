import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import { adjacencyGraphs, dictionary } from "@zxcvbn-ts/language-common";

/**
 * Password strength (AUTH-2), estimated with zxcvbn-ts over its common-password, name and keyboard
 * dictionaries: a password that is long enough but predictable (twelve spaces, `aaaaaaaaaaaa`,
 * `qwertyuiopas`, a date, a dictionary word with a digit) scores low and is refused. The account's own
 * email (and its parts) and name count as known words. Built once, on first use (~10 ms).
 */
let estimator: ZxcvbnFactory | undefined;

/** The minimum zxcvbn score (0–4) a new password needs: 3 is "safely unguessable" offline at 10^8 guesses. */
export const MIN_SCORE = 3;

/** zxcvbn's warning keys, in words (its translation packs are not loaded). */
const WARNINGS: Readonly<Record<string, string>> = {
  simpleRepeat: "repeated characters",
  extendedRepeat: "a repeated pattern",
  sequences: "a sequence like abc or 6543",
  straightRow: "a row of keys",
  keyPattern: "a keyboard pattern",
  recentYears: "a recent year",
  dates: "a date",
  topTen: "one of the most used passwords",
  topHundred: "a very common password",
  common: "a common password",
  similarToCommon: "too similar to a common password",
  wordByItself: "a single word",
  namesByThemselves: "a name",
  commonNames: "a common name",
  userInputs: "personal information",
  pwned: "a breached password",
};

/** The words an attacker who knows the account would try first: the address, its parts, the name. */
function personalWords(email?: string, name?: string): string[] {
  const words: string[] = [];
  if (email) {
    const [local = "", domain = ""] = email.toLowerCase().split("@");
    words.push(email.toLowerCase(), local, ...local.split(/[._+-]/), ...domain.split("."));
  }
  if (name) words.push(name.toLowerCase(), ...name.toLowerCase().split(/\s+/));
  return words.filter((w) => w.length >= 3);
}

/** The field error messages for a password that is too guessable; empty when it is strong enough. */
export function strengthProblems(
  password: string,
  context: { email?: string; name?: string } = {},
): string[] {
  const words = personalWords(context.email, context.name);
  const lower = password.toLowerCase();
  // zxcvbn would score "ada.lovelace@example.org!" fairly high; containing the address is refused outright.
  if (words.some((w) => w.length >= 4 && lower.includes(w)))
    return [
      context.name && lower.includes(context.name.toLowerCase())
        ? "must not contain your name"
        : "must not contain your email address",
    ];
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...dictionary },
    graphs: adjacencyGraphs,
  });
  const result = estimator.check(password, words);
  if (result.score >= MIN_SCORE) return [];
  const warning = result.feedback.warning ? WARNINGS[result.feedback.warning] : undefined;
  const hint = warning ? ` (${warning})` : "";
  return [`is too easy to guess${hint}`];
}
