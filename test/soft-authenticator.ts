import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

/** The least of CBOR (RFC 8949) a WebAuthn authenticator writes: unsigned and negative integers, byte and text strings, maps. */
function cbor(v: unknown): Buffer {
  const head = (major: number, n: number) =>
    n < 24
      ? Buffer.from([(major << 5) | n])
      : n < 256
        ? Buffer.from([(major << 5) | 24, n])
        : n < 65_536
          ? Buffer.from([(major << 5) | 25, n >> 8, n & 255])
          : Buffer.concat([
              Buffer.from([(major << 5) | 26]),
              Buffer.from(new Uint32Array([n]).buffer).reverse(),
            ]);
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === "string") return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (v instanceof Map)
    return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error(`cbor: ${typeof v}`);
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest();
const b64 = (b: Buffer | Uint8Array) => Buffer.from(b).toString("base64url");
const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);

/**
 * A platform authenticator in software (a P-256 key per credential, `none` attestation), to drive
 * Bulwark's WebAuthn ceremonies from Node exactly as a browser would send them. Each knob a test turns
 * (origin, user verification, counter) changes only what a real device could also send.
 */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  private readonly key: KeyObject;
  private readonly publicJwk: { x: string; y: string };
  counter = 0;
  userHandle = "";

  constructor(
    private readonly rpId: string,
    private readonly origin: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.key = privateKey;
    this.publicJwk = publicKey.export({ format: "jwk" }) as { x: string; y: string };
  }

  /** The answer to `navigator.credentials.create({ publicKey: options })`. */
  create(
    options: { challenge: string; user: { id: string } },
    o: { origin?: string; userVerified?: boolean } = {},
  ) {
    this.userHandle = options.user.id;
    const cose = new Map<number, unknown>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(this.publicJwk.x, "base64url")],
      [-3, Buffer.from(this.publicJwk.y, "base64url")],
    ]);
    const flags = 0x01 | 0x40 | (o.userVerified === false ? 0 : 0x04);
    const authData = Buffer.concat([
      sha256(this.rpId),
      Buffer.from([flags]),
      u32(this.counter),
      Buffer.alloc(16),
      Buffer.from([this.credentialId.length >> 8, this.credentialId.length & 255]),
      this.credentialId,
      cbor(cose),
    ]);
    const clientData = JSON.stringify({
      type: "webauthn.create",
      challenge: options.challenge,
      origin: o.origin ?? this.origin,
      crossOrigin: false,
    });
    const attestation = cbor(
      new Map<string, unknown>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );
    return {
      id: b64(this.credentialId),
      rawId: b64(this.credentialId),
      type: "public-key" as const,
      response: {
        clientDataJSON: b64(Buffer.from(clientData)),
        attestationObject: b64(attestation),
        transports: ["internal"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  /** The answer to `navigator.credentials.get({ publicKey: options })`; the counter moves on first. */
  get(options: { challenge: string }, o: { origin?: string; userVerified?: boolean; counter?: number } = {}) {
    this.counter = o.counter ?? this.counter + 1;
    const flags = 0x01 | (o.userVerified === false ? 0 : 0x04);
    const authData = Buffer.concat([sha256(this.rpId), Buffer.from([flags]), u32(this.counter)]);
    const clientData = Buffer.from(
      JSON.stringify({ type: "webauthn.get", challenge: options.challenge, origin: o.origin ?? this.origin }),
    );
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientData)]), this.key);
    return {
      id: b64(this.credentialId),
      rawId: b64(this.credentialId),
      type: "public-key" as const,
      response: {
        clientDataJSON: b64(clientData),
        authenticatorData: b64(authData),
        signature: b64(signature),
        userHandle: this.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }
}
