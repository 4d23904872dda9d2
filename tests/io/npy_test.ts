import assert from "node:assert/strict";
import { encodeNpy } from "../../lib/io/npy.ts";

Deno.test("encodeNpy() writes a NumPy 1.0 header with dtype, order and shape", async (t) => {
  for (const shape of [[6], [2, 3], [1, 1, 6]]) {
    await t.step(shape.join("x"), () => {
      const data = Float32Array.of(1, 2, 3, 4, 5, 6);
      const bytes = encodeNpy(data, shape);
      assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 78, 85, 77, 80, 89, 1, 0]);
      const headerLength = bytes[8] | (bytes[9] << 8);
      assert.equal((10 + headerLength) % 64, 0);
      const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
      const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
      assert.match(
        header,
        new RegExp(
          `^\\{'descr': '<f4', 'fortran_order': False, 'shape': ${
            shapeText.replace(/[()]/g, "\\$&")
          }, \\} *\\n$`,
        ),
      );
      const body = new Float32Array(bytes.slice(10 + headerLength).buffer);
      assert.deepEqual(body, data);
    });
  }
  await t.step("a shape that does not fit the data", () => {
    assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), RangeError);
  });
});
