import { describe, expect, it } from "vitest";
import { ApiError } from "../web/src/api.js";
import { fieldMessage, inWords, describe as inWordsOf } from "../web/src/messages.js";
import { safeNext } from "../web/src/next.js";

/**
 * What the console tells a person for each kind of API answer (its pages render exactly these strings):
 * rate limits say when to try again, field errors read as sentences, unknown codes fall back to the API's
 * own message rather than to nothing.
 */
describe("the console's words for API errors", () => {
  it("RATE-4: a 429 says when to retry, from Retry-After", () => {
    expect(inWordsOf(new ApiError(429, "RATE_LIMITED", "Too many requests.", [], 45))).toBe(
      "Too many attempts. Try again in 45 seconds.",
    );
    expect(inWordsOf(new ApiError(429, "RATE_LIMITED", "Too many requests.", [], 600))).toBe(
      "Too many attempts. Try again in 10 minutes.",
    );
    expect(inWordsOf(new ApiError(429, "RATE_LIMITED", "Too many requests."))).toBe(
      "Too many attempts. Try again later.",
    );
    expect(inWords(1)).toBe("in 1 second");
    expect(inWords(7200)).toBe("in 2 hours");
  });

  it("AUTH-3: known codes read as sentences; an unknown code keeps the API's message", () => {
    expect(inWordsOf(new ApiError(401, "INVALID_CREDENTIALS", "The email or password is incorrect."))).toBe(
      "That email and password don't match an account. Check both and try again.",
    );
    expect(
      inWordsOf(new ApiError(409, "ORDER_TRANSITION_INVALID", "An order cannot go from paid to pending.")),
    ).toBe("An order cannot go from paid to pending.");
    expect(inWordsOf(new Error("boom"))).toMatch(/went wrong on our side/);
  });

  it("INPUT-1: schema messages become plain words; the password policy's own sentences are kept", () => {
    expect(fieldMessage({ in: "body", field: "email", message: 'must match pattern "^[^\\s@]+@"' })).toBe(
      "Enter a valid email address.",
    );
    expect(
      fieldMessage({ in: "body", field: "name", message: "must NOT have more than 100 characters" }),
    ).toBe("This is too long.");
    expect(
      fieldMessage({
        in: "body",
        field: "password",
        message: "is too easy to guess: add another word or two",
      }),
    ).toBe("Is too easy to guess: add another word or two.");
  });
});

describe("where the console goes after sign-in (?next=)", () => {
  const ORIGIN = "https://bulwark.example";
  it("AUTH-3: a path on this origin is followed, with its query", () => {
    expect(safeNext("/app/account", "/app", ORIGIN)).toBe("/app/account");
    expect(safeNext("/accept-invitation?token=bwi_x&orgId=org_1", "/app", ORIGIN)).toBe(
      "/accept-invitation?token=bwi_x&orgId=org_1",
    );
  });

  it("AUTH-3: anything that leaves the origin, as the browser would read it, falls back", () => {
    for (const next of [
      "//evil.example/x",
      "/\\evil.example",
      "/\t/evil.example/x",
      "/\n/evil.example",
      "/\r\n/evil.example",
      "https://evil.example/",
      "javascript:alert(1)",
      "evil.example",
      "",
      null,
    ])
      expect(safeNext(next, "/app", ORIGIN), JSON.stringify(next)).toBe("/app");
  });
});
