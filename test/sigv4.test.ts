import { describe, expect, it } from "vitest";
import { presignedProblem } from "./sigv4.js";

// The pre-signed GET of the AWS documentation ("Authenticating Requests: Using Query Parameters").
const SECRET = { AKIAIOSFODNN7EXAMPLE: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const URL_PATH =
  "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

describe("the SigV4 check the S3 upload tests stand in front of s3rver", () => {
  it("accepts the AWS documentation's example and refuses it changed", () => {
    const host = { host: "examplebucket.s3.amazonaws.com" };
    expect(presignedProblem("GET", URL_PATH, host, SECRET)).toBeUndefined();
    expect(presignedProblem("PUT", URL_PATH, host, SECRET)).toBe("SignatureDoesNotMatch");
    expect(presignedProblem("GET", URL_PATH.replace("test.txt", "other.txt"), host, SECRET)).toBe(
      "SignatureDoesNotMatch",
    );
    expect(presignedProblem("GET", URL_PATH.replace("86400", "86401"), host, SECRET)).toBe(
      "SignatureDoesNotMatch",
    );
    expect(presignedProblem("GET", URL_PATH, { host: "evil.example" }, SECRET)).toBe("SignatureDoesNotMatch");
    expect(presignedProblem("GET", URL_PATH, host, { AKIAIOSFODNN7EXAMPLE: "wrong" })).toBe(
      "SignatureDoesNotMatch",
    );
  });
});
