import { Type } from "@sinclair/typebox";

/** The four roles as a schema (spelt out: TypeBox keeps literal types only for a literal array). */
export const RoleSchema = Type.Union([
  Type.Literal("OWNER"),
  Type.Literal("ADMIN"),
  Type.Literal("MEMBER"),
  Type.Literal("VIEWER"),
]);
