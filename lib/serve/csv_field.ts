/**
 * CSV output as RFC 4180 writes it: a field holding a comma, a double
 * quote, a CR or an LF is wrapped in double quotes, its quotes doubled;
 * other fields stay bare. Lines end in LF.
 *
 * @module
 */

/**
 * One CSV field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvField } from "./csv_field.ts";
 * assert.equal(csvField(196), "196");
 * assert.equal(csvField("Toy Story (1995)"), "Toy Story (1995)");
 * assert.equal(csvField('Seven, "Se7en"'), '"Seven, ""Se7en"""');
 * ```
 */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * One CSV line of `fields`, ending in LF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvLine } from "./csv_field.ts";
 * assert.equal(csvLine([0, "a,b"]), '0,"a,b"\n');
 * ```
 */
export function csvLine(fields: readonly (string | number)[]): string {
  return fields.map(csvField).join(",") + "\n";
}
