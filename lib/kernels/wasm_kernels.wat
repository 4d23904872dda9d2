;; WebAssembly SIMD kernels of the model (source of wasm_kernels_wasm.ts).
;;
;; Regenerate the embedded bytes after editing:
;;
;;   deno task build:wasm
;;
;; It compiles this file with wabt's wat2wasm (the npm package `wabt`, at
;; the version pinned in deno.json; a development-time tool only, nothing of
;; it is a runtime dependency) with SIMD and bulk memory enabled and no name
;; section, and rewrites wasm_kernels_wasm.ts (see wasm_build.ts). The
;; runtime validates the module; tests/kernels/wasm_build_test.ts fails when
;; the embedded bytes are not this file's, and
;; tests/kernels/wasm_arena_test.ts checks that its exports match this file's.
;;
;; Every pointer is a byte address in the imported memory; strides
;; are in bytes. Unaligned addresses are fine (v128 loads carry no alignment
;; requirement). Every kernel but `gemm` reproduces the TypeScript loop it
;; replaces bit for bit (adam.ts's float32 Adam, dense.ts's float64 bias
;; sums, ...); `gemm` accumulates in float32.

(module
  (import "env" "memory" (memory 1 65536))
  ;; Math.exp and Math.log of the host, so float64 exponentials and logs
  ;; are the TypeScript loops' bits (the per-example MF kernels use them).
  (import "env" "exp" (func $exp (param f64) (result f64)))
  (import "env" "log" (func $log (param f64) (result f64)))

  ;; ---------------------------------------------------------------- Adam --
  ;; For i < n (elements at p, g, m, v), every operation in float32:
  ;;   g = grads[i]; grads[i] = 0
  ;;   m = b1*m + c1*g;  v = b2*v + (c2*g)*g
  ;;   |m| < FLT_MIN -> 0;  v < FLT_MIN -> 0
  ;;   p = p - (lr*m) / (sqrt(v) + eps)
  (func $adam (export "adam")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32)
    (param $lr f32) (param $eps f32)
    (local $i i32) (local $end i32) (local $end4 i32)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128)
    (local $LR v128) (local $EPS v128) (local $FMIN v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $LR (f32x4.splat (local.get $lr)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $FMIN (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $done4
      (loop $vec
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (v128.store (i32.add (local.get $g) (local.get $i)) (v128.const i32x4 0 0 0 0))
        (local.set $mv (f32x4.add
          (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
          (f32x4.mul (local.get $C1) (local.get $gv))))
        (local.set $mv (v128.andnot (local.get $mv)
          (f32x4.lt (f32x4.abs (local.get $mv)) (local.get $FMIN))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mv))
        (local.set $vv (f32x4.add
          (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
          (f32x4.mul (f32x4.mul (local.get $C2) (local.get $gv)) (local.get $gv))))
        (local.set $vv (v128.andnot (local.get $vv) (f32x4.lt (local.get $vv) (local.get $FMIN))))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $p) (local.get $i))
          (f32x4.sub (v128.load (i32.add (local.get $p) (local.get $i)))
            (f32x4.div (f32x4.mul (local.get $LR) (local.get $mv))
              (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $EPS)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
        (f32.store (i32.add (local.get $g) (local.get $i)) (f32.const 0))
        (local.set $ms (f32.add
          (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $i))))
          (f32.mul (local.get $c1) (local.get $gs))))
        (local.set $vs (f32.add
          (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $i))))
          (f32.mul (f32.mul (local.get $c2) (local.get $gs)) (local.get $gs))))
        (if (f32.lt (f32.abs (local.get $ms)) (f32.const 0x1p-126)) (then (local.set $ms (f32.const 0))))
        (if (f32.lt (local.get $vs) (f32.const 0x1p-126)) (then (local.set $vs (f32.const 0))))
        (f32.store (i32.add (local.get $m) (local.get $i)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $p) (local.get $i))
          (f32.sub (f32.load (i32.add (local.get $p) (local.get $i)))
            (f32.div (f32.mul (local.get $lr) (local.get $ms))
              (f32.add (f32.sqrt (local.get $vs)) (local.get $eps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; ---------------------------------------------------------------- ReLU --
  ;; x[i] = x[i] < 0 ? 0 : x[i]  (-0 and NaN stay), i < n
  (func $relu (export "relu") (param $x i32) (param $n i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $v v128) (local $s f32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $d4
      (loop $l4
        (br_if $d4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
        (v128.store (i32.add (local.get $x) (local.get $i))
          (v128.andnot (local.get $v) (f32x4.lt (local.get $v) (v128.const f32x4 0 0 0 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l4)))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $s (f32.load (i32.add (local.get $x) (local.get $i))))
        (if (f32.lt (local.get $s) (f32.const 0))
          (then (f32.store (i32.add (local.get $x) (local.get $i)) (f32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l1))))

  ;; g[i] = act[i] > 0 ? g[i] : 0, i < n
  (func $relu_backward (export "relu_backward") (param $act i32) (param $g i32) (param $n i32)
    (local $i i32) (local $end i32) (local $end4 i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $d4
      (loop $l4
        (br_if $d4 (i32.ge_u (local.get $i) (local.get $end4)))
        (v128.store (i32.add (local.get $g) (local.get $i))
          (v128.and (v128.load (i32.add (local.get $g) (local.get $i)))
            (f32x4.gt (v128.load (i32.add (local.get $act) (local.get $i)))
              (v128.const f32x4 0 0 0 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l4)))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.eqz (f32.gt (f32.load (i32.add (local.get $act) (local.get $i))) (f32.const 0)))
          (then (f32.store (i32.add (local.get $g) (local.get $i)) (f32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l1))))

  ;; ---------------------------------------------------------- bias grads --
  ;; sums (float64, `out` of them at $s) = column sums of dy[count x out], rows
  ;; in order; then bias[j] = f32(sums[j]) or f32(bias[j] + sums[j]) ($acc).
  (func $bias_grad (export "bias_grad")
    (param $dy i32) (param $count i32) (param $out i32) (param $bias i32) (param $acc i32)
    (param $s i32)
    (local $r i32) (local $j i32) (local $row i32) (local $out2 i32) (local $t f64)
    (local.set $out2 (i32.and (local.get $out) (i32.const -2)))
    (memory.fill (local.get $s) (i32.const 0) (i32.shl (local.get $out) (i32.const 3)))
    (local.set $row (local.get $dy))
    (block $rd
      (loop $rl
        (br_if $rd (i32.ge_u (local.get $r) (local.get $count)))
        (local.set $j (i32.const 0))
        (block $jd
          (loop $jl
            (br_if $jd (i32.ge_u (local.get $j) (local.get $out2)))
            (v128.store (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 3)))
              (f64x2.add
                (v128.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 3))))
                (f64x2.promote_low_f32x4
                  (v128.load64_zero (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $jl)))
        (if (i32.lt_u (local.get $j) (local.get $out))
          (then
            (f64.store (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 3)))
              (f64.add
                (f64.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 3))))
                (f64.promote_f32
                  (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))))))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $out) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
    (local.set $j (i32.const 0))
    (block $bd
      (loop $bl
        (br_if $bd (i32.ge_u (local.get $j) (local.get $out)))
        (local.set $t (f64.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 3)))))
        (if (local.get $acc)
          (then (local.set $t (f64.add (local.get $t)
            (f64.promote_f32 (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))))))))
        (f32.store (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))
          (f32.demote_f64 (local.get $t)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $bl))))

  ;; ---------------------------------------------------------- row copies --
  ;; out[b*stride .. +dim) = table[ids[b]*dim .. +dim) for b < count (i32 ids at $ids;
  ;; dim and stride in bytes)
  (func $gather (export "gather")
    (param $table i32) (param $ids i32) (param $count i32) (param $dim i32)
    (param $out i32) (param $stride i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (block $d
      (loop $l
        (br_if $d (i32.ge_u (local.get $ids) (local.get $end)))
        (memory.copy (local.get $out)
          (i32.add (local.get $table) (i32.mul (i32.load (local.get $ids)) (local.get $dim)))
          (local.get $dim))
        (local.set $out (i32.add (local.get $out) (local.get $stride)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (br $l))))

  ;; dst[x .. x+n) += src[y .. y+n) (float32, n in bytes, a multiple of 4)
  (func $add_into (param $dst i32) (param $src i32) (param $n i32)
    (local $i i32) (local $n4 i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -16)))
    (block $d4
      (loop $l4
        (br_if $d4 (i32.ge_u (local.get $i) (local.get $n4)))
        (v128.store (i32.add (local.get $dst) (local.get $i))
          (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $i)))
            (v128.load (i32.add (local.get $src) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l4)))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $dst) (local.get $i))
          (f32.add (f32.load (i32.add (local.get $dst) (local.get $i)))
            (f32.load (i32.add (local.get $src) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l1))))

  ;; grads[ids[b]*dim .. +dim) += src[b*stride .. +dim) for b < count, in order
  (func $scatter_add (export "scatter_add")
    (param $grads i32) (param $ids i32) (param $count i32) (param $dim i32)
    (param $src i32) (param $stride i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (block $d
      (loop $l
        (br_if $d (i32.ge_u (local.get $ids) (local.get $end)))
        (call $add_into
          (i32.add (local.get $grads) (i32.mul (i32.load (local.get $ids)) (local.get $dim)))
          (local.get $src) (local.get $dim))
        (local.set $src (i32.add (local.get $src) (local.get $stride)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (br $l))))

  ;; dst[r*sd .. +cols) = src[r*ss .. +cols) for r < rows (bytes); ss = 0 repeats one row
  (func $copy_rows (export "copy_rows")
    (param $src i32) (param $ss i32) (param $dst i32) (param $sd i32) (param $rows i32)
    (param $cols i32)
    (local $i i32)
    (if (i32.and (i32.eqz (i32.and (local.get $cols) (i32.const 15)))
          (i32.le_u (local.get $cols) (i32.const 256)))
      (then
        (block $vd
          (loop $vl
            (br_if $vd (i32.eqz (local.get $rows)))
            (local.set $i (i32.const 0))
            (loop $cl
              (v128.store (i32.add (local.get $dst) (local.get $i))
                (v128.load (i32.add (local.get $src) (local.get $i))))
              (br_if $cl (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16)))
                (local.get $cols))))
            (local.set $src (i32.add (local.get $src) (local.get $ss)))
            (local.set $dst (i32.add (local.get $dst) (local.get $sd)))
            (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
            (br $vl)))
        (return)))
    ;; rows of 1..15 floats (e.g. a 1-wide bias): a float at a time, since
    ;; memory.copy costs a runtime call per row
    (if (i32.and (i32.eqz (i32.and (local.get $cols) (i32.const 3)))
          (i32.lt_u (local.get $cols) (i32.const 64)))
      (then
        (block $sd
          (loop $sl
            (br_if $sd (i32.eqz (local.get $rows)))
            (local.set $i (i32.const 0))
            (loop $scl
              (f32.store (i32.add (local.get $dst) (local.get $i))
                (f32.load (i32.add (local.get $src) (local.get $i))))
              (br_if $scl (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4)))
                (local.get $cols))))
            (local.set $src (i32.add (local.get $src) (local.get $ss)))
            (local.set $dst (i32.add (local.get $dst) (local.get $sd)))
            (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
            (br $sl)))
        (return)))
    (block $d
      (loop $l
        (br_if $d (i32.eqz (local.get $rows)))
        (memory.copy (local.get $dst) (local.get $src) (local.get $cols))
        (local.set $src (i32.add (local.get $src) (local.get $ss)))
        (local.set $dst (i32.add (local.get $dst) (local.get $sd)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $l))))

  ;; out[r*so + c] = x[r*sx + c] * y[r*sy + c] for r < rows, c < cols (float32;
  ;; strides and cols in bytes)
  (func $mul_rows (export "mul_rows")
    (param $x i32) (param $sx i32) (param $y i32) (param $sy i32) (param $out i32)
    (param $so i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $c4 i32)
    (local.set $c4 (i32.and (local.get $cols) (i32.const -16)))
    (block $d
      (loop $l
        (br_if $d (i32.eqz (local.get $rows)))
        (local.set $i (i32.const 0))
        (block $d4
          (loop $l4
            (br_if $d4 (i32.ge_u (local.get $i) (local.get $c4)))
            (v128.store (i32.add (local.get $out) (local.get $i))
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $i)))
                (v128.load (i32.add (local.get $y) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $l4)))
        (block $d1
          (loop $l1
            (br_if $d1 (i32.ge_u (local.get $i) (local.get $cols)))
            (f32.store (i32.add (local.get $out) (local.get $i))
              (f32.mul (f32.load (i32.add (local.get $x) (local.get $i)))
                (f32.load (i32.add (local.get $y) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $l1)))
        (local.set $x (i32.add (local.get $x) (local.get $sx)))
        (local.set $y (i32.add (local.get $y) (local.get $sy)))
        (local.set $out (i32.add (local.get $out) (local.get $so)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $l))))

  ;; o[j] = max(r[j] + v[j], 0) (0 for NaN) for the dim bytes of one row, float32
  (func $add_relu_row (param $r i32) (param $v i32) (param $o i32) (param $dim i32)
    (local $e64 i32) (local $e16 i32) (local $e i32) (local $x v128) (local $z v128) (local $t f32)
    (local.set $e64 (i32.add (local.get $r) (i32.and (local.get $dim) (i32.const -64))))
    (local.set $e16 (i32.add (local.get $r) (i32.and (local.get $dim) (i32.const -16))))
    (local.set $e (i32.add (local.get $r) (local.get $dim)))
    (block $b64
      (loop $l64
        (br_if $b64 (i32.ge_u (local.get $r) (local.get $e64)))
        (local.set $x (f32x4.add (v128.load (local.get $r)) (v128.load (local.get $v))))
        (v128.store (local.get $o) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
        (local.set $x (f32x4.add (v128.load offset=16 (local.get $r)) (v128.load offset=16 (local.get $v))))
        (v128.store offset=16 (local.get $o) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
        (local.set $x (f32x4.add (v128.load offset=32 (local.get $r)) (v128.load offset=32 (local.get $v))))
        (v128.store offset=32 (local.get $o) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
        (local.set $x (f32x4.add (v128.load offset=48 (local.get $r)) (v128.load offset=48 (local.get $v))))
        (v128.store offset=48 (local.get $o) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
        (local.set $r (i32.add (local.get $r) (i32.const 64)))
        (local.set $v (i32.add (local.get $v) (i32.const 64)))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (br $l64)))
    (block $b16
      (loop $l16
        (br_if $b16 (i32.ge_u (local.get $r) (local.get $e16)))
        (local.set $x (f32x4.add (v128.load (local.get $r)) (v128.load (local.get $v))))
        (v128.store (local.get $o) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
        (local.set $r (i32.add (local.get $r) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $l16)))
    (block $b4
      (loop $l4
        (br_if $b4 (i32.ge_u (local.get $r) (local.get $e)))
        (local.set $t (f32.add (f32.load (local.get $r)) (f32.load (local.get $v))))
        (if (i32.eqz (f32.gt (local.get $t) (f32.const 0))) (then (local.set $t (f32.const 0))))
        (f32.store (local.get $o) (local.get $t))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $l4))))

  ;; Scores candidates from one read of each joint row r = table + ids[c]*rs
  ;; (c < count): logits[c] = base + sum_{j<nf} r[j]*uw[j] (lanes of 4, then
  ;; the lanes' sum, then the tail; float32) and, with vec, row c of out
  ;; (stride so) = max(r[nf + j] + vec[j], 0) for the dim bytes after the GMF
  ;; share. nf, dim, rs and so in bytes.
  (func $score_joint (export "score_joint")
    (param $table i32) (param $ids i32) (param $count i32) (param $rs i32) (param $nf i32)
    (param $uw i32) (param $base f32) (param $logits i32) (param $dim i32) (param $vec i32)
    (param $out i32) (param $so i32)
    (local $end i32) (local $r i32) (local $p i32) (local $nf16 i32) (local $s v128) (local $t f32)
    (local.set $end (i32.add (local.get $ids) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $nf16 (i32.and (local.get $nf) (i32.const -16)))
    (block $d
      (loop $l
        (br_if $d (i32.ge_u (local.get $ids) (local.get $end)))
        (local.set $r (i32.add (local.get $table) (i32.mul (i32.load (local.get $ids)) (local.get $rs))))
        (local.set $s (v128.const f32x4 0 0 0 0))
        (local.set $p (i32.const 0))
        (block $vd
          (loop $vl
            (br_if $vd (i32.ge_u (local.get $p) (local.get $nf16)))
            (local.set $s (f32x4.add (local.get $s)
              (f32x4.mul (v128.load (i32.add (local.get $r) (local.get $p)))
                (v128.load (i32.add (local.get $uw) (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $vl)))
        (local.set $t (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
          (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))
        (block $td
          (loop $tl
            (br_if $td (i32.ge_u (local.get $p) (local.get $nf)))
            (local.set $t (f32.add (local.get $t)
              (f32.mul (f32.load (i32.add (local.get $r) (local.get $p)))
                (f32.load (i32.add (local.get $uw) (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $tl)))
        (f32.store (local.get $logits) (f32.add (local.get $base) (local.get $t)))
        (if (local.get $dim)
          (then
            (call $add_relu_row (i32.add (local.get $r) (local.get $nf)) (local.get $vec)
              (local.get $out) (local.get $dim))))
        (local.set $logits (i32.add (local.get $logits) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (local.get $so)))
        (local.set $ids (i32.add (local.get $ids) (i32.const 4)))
        (br $l))))

  ;; ---------------------------------------------- matrix factorisation SGD --
  ;; Per-example SGD of y(u,i) = b + b_u + b_i + <p_u, q_i> over `count`
  ;; examples, the arithmetic of lib/kernels/mf_sgd.ts bit for bit (every
  ;; operation float32 but the loss and the sigmoid, which are float64 with
  ;; the imported Math.exp and Math.log). Ids at users/items/negs, labels as
  ;; float32; row size nfb in bytes; b at gb; the running loss sum comes in
  ;; as $loss and goes out as the result.

  ;; The dot product of rows p and q (nfb bytes): four lanes, their sum, the tail.
  (func $mf_dot (param $p i32) (param $q i32) (param $nfb i32) (param $nf16 i32) (result f32)
    (local $s v128) (local $o i32) (local $t f32)
    (local.set $s (v128.const f32x4 0 0 0 0))
    (block $vd
      (loop $vl
        (br_if $vd (i32.ge_u (local.get $o) (local.get $nf16)))
        (local.set $s (f32x4.add (local.get $s)
          (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o)))
            (v128.load (i32.add (local.get $q) (local.get $o))))))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vl)))
    (local.set $t (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
      (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))
    (block $td
      (loop $tl
        (br_if $td (i32.ge_u (local.get $o) (local.get $nfb)))
        (local.set $t (f32.add (local.get $t)
          (f32.mul (f32.load (i32.add (local.get $p) (local.get $o)))
            (f32.load (i32.add (local.get $q) (local.get $o))))))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $tl)))
    (local.get $t))

  ;; The lanes' sum of a v128 of float32s: (l0 + l1) + (l2 + l3).
  (func $mf_lanes (param $s v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
      (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))

  ;; Logistic loss, labels y: z, g = f(sigma(z) - y), then every touched
  ;; value w <- w - lr*(grad + reg*w) from the old values.
  (func $mf_sgd_bce (export "mf_sgd_bce")
    (param $P i32) (param $Q i32) (param $bu i32) (param $bi i32) (param $gb i32)
    (param $users i32) (param $items i32) (param $labels i32) (param $count i32) (param $nfb i32)
    (param $lr f32) (param $reg f32) (param $penalty f64) (param $loss f64) (result f64)
    (local $e i32) (local $u i32) (local $i i32) (local $p i32) (local $q i32) (local $o i32)
    (local $nf16 i32)
    (local $b f32) (local $vbu f32) (local $vbi f32) (local $z f32) (local $g f32)
    (local $x f32) (local $w f32) (local $n f32)
    (local $zd f64) (local $y f64) (local $ex f64) (local $prod f64)
    (local $vg v128) (local $vlr v128) (local $vreg v128) (local $vp v128) (local $vq v128)
    (local $acc v128)
    (local.set $nf16 (i32.and (local.get $nfb) (i32.const -16)))
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $vreg (f32x4.splat (local.get $reg)))
    (local.set $b (f32.load (local.get $gb)))
    (local.set $prod (f64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $e) (local.get $count)))
        (local.set $u (i32.load (i32.add (local.get $users) (i32.shl (local.get $e) (i32.const 2)))))
        (local.set $i (i32.load (i32.add (local.get $items) (i32.shl (local.get $e) (i32.const 2)))))
        (local.set $p (i32.add (local.get $P) (i32.mul (local.get $u) (local.get $nfb))))
        (local.set $q (i32.add (local.get $Q) (i32.mul (local.get $i) (local.get $nfb))))
        (local.set $u (i32.add (local.get $bu) (i32.shl (local.get $u) (i32.const 2))))
        (local.set $i (i32.add (local.get $bi) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $vbu (f32.load (local.get $u)))
        (local.set $vbi (f32.load (local.get $i)))
        (local.set $z (f32.add
          (f32.add (f32.add (local.get $b) (local.get $vbu))
            (call $mf_dot (local.get $p) (local.get $q) (local.get $nfb) (local.get $nf16)))
          (local.get $vbi)))
        (local.set $zd (f64.promote_f32 (local.get $z)))
        (local.set $y (f64.promote_f32
          (f32.load (i32.add (local.get $labels) (i32.shl (local.get $e) (i32.const 2))))))
        (local.set $ex (call $exp (f64.neg (f64.abs (local.get $zd)))))
        (local.set $g (f32.demote_f64 (f64.sub
          (if (result f64) (f64.ge (local.get $zd) (f64.const 0))
            (then (f64.div (f64.const 1) (f64.add (f64.const 1) (local.get $ex))))
            (else (f64.div (local.get $ex) (f64.add (f64.const 1) (local.get $ex)))))
          (local.get $y))))
        (local.set $loss (f64.add (local.get $loss)
          (f64.sub
            (select (local.get $zd) (f64.const 0) (f64.gt (local.get $zd) (f64.const 0)))
            (f64.mul (local.get $zd) (local.get $y)))))
        (local.set $prod (f64.mul (local.get $prod) (f64.add (f64.const 1) (local.get $ex))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $e) (i32.const 63)))
          (then
            (local.set $loss (f64.add (local.get $loss) (call $log (local.get $prod))))
            (local.set $prod (f64.const 1))))
        ;; The update, from the old values; acc gathers the squared norm.
        (local.set $vg (f32x4.splat (local.get $g)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $o (i32.const 0))
        (block $vd
          (loop $vl
            (br_if $vd (i32.ge_u (local.get $o) (local.get $nf16)))
            (local.set $vp (v128.load (i32.add (local.get $p) (local.get $o))))
            (local.set $vq (v128.load (i32.add (local.get $q) (local.get $o))))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.add (f32x4.mul (local.get $vp) (local.get $vp))
                (f32x4.mul (local.get $vq) (local.get $vq)))))
            (v128.store (i32.add (local.get $p) (local.get $o))
              (f32x4.sub (local.get $vp) (f32x4.mul (local.get $vlr)
                (f32x4.add (f32x4.mul (local.get $vg) (local.get $vq))
                  (f32x4.mul (local.get $vreg) (local.get $vp))))))
            (v128.store (i32.add (local.get $q) (local.get $o))
              (f32x4.sub (local.get $vq) (f32x4.mul (local.get $vlr)
                (f32x4.add (f32x4.mul (local.get $vg) (local.get $vp))
                  (f32x4.mul (local.get $vreg) (local.get $vq))))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $vl)))
        (local.set $n (call $mf_lanes (local.get $acc)))
        (block $td
          (loop $tl
            (br_if $td (i32.ge_u (local.get $o) (local.get $nfb)))
            (local.set $x (f32.load (i32.add (local.get $p) (local.get $o))))
            (local.set $w (f32.load (i32.add (local.get $q) (local.get $o))))
            (local.set $n (f32.add (local.get $n)
              (f32.add (f32.mul (local.get $x) (local.get $x)) (f32.mul (local.get $w) (local.get $w)))))
            (f32.store (i32.add (local.get $p) (local.get $o))
              (f32.sub (local.get $x) (f32.mul (local.get $lr)
                (f32.add (f32.mul (local.get $g) (local.get $w)) (f32.mul (local.get $reg) (local.get $x))))))
            (f32.store (i32.add (local.get $q) (local.get $o))
              (f32.sub (local.get $w) (f32.mul (local.get $lr)
                (f32.add (f32.mul (local.get $g) (local.get $x)) (f32.mul (local.get $reg) (local.get $w))))))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (br $tl)))
        (if (f64.gt (local.get $penalty) (f64.const 0))
          (then
            (local.set $n (f32.add (f32.add (f32.add (local.get $n)
              (f32.mul (local.get $vbu) (local.get $vbu)))
              (f32.mul (local.get $vbi) (local.get $vbi)))
              (f32.mul (local.get $b) (local.get $b))))
            (local.set $loss (f64.add (local.get $loss)
              (f64.mul (local.get $penalty) (f64.promote_f32 (local.get $n)))))))
        (f32.store (local.get $u) (f32.sub (local.get $vbu) (f32.mul (local.get $lr)
          (f32.add (local.get $g) (f32.mul (local.get $reg) (local.get $vbu))))))
        (f32.store (local.get $i) (f32.sub (local.get $vbi) (f32.mul (local.get $lr)
          (f32.add (local.get $g) (f32.mul (local.get $reg) (local.get $vbi))))))
        (local.set $b (f32.sub (local.get $b) (f32.mul (local.get $lr)
          (f32.add (local.get $g) (f32.mul (local.get $reg) (local.get $b))))))
        (br $next)))
    (if (i32.and (local.get $count) (i32.const 63))
      (then (local.set $loss (f64.add (local.get $loss) (call $log (local.get $prod))))))
    (f32.store (local.get $gb) (local.get $b))
    (local.get $loss))

  ;; BPR on triples (u, i, j): d = z_i - z_j, s = sigma(-d), g_i = f(-s),
  ;; g_j = f(s); the user row takes both items' terms, each item its own (an
  ;; item that is both takes both, and its L2 term twice).
  (func $mf_sgd_bpr (export "mf_sgd_bpr")
    (param $P i32) (param $Q i32) (param $bu i32) (param $bi i32) (param $gb i32)
    (param $users i32) (param $items i32) (param $negs i32) (param $count i32) (param $nfb i32)
    (param $lr f32) (param $reg f32) (param $penalty f64) (param $loss f64) (result f64)
    (local $e i32) (local $u i32) (local $i i32) (local $j i32) (local $p i32) (local $qi i32)
    (local $qj i32) (local $o i32) (local $nf16 i32)
    (local $b f32) (local $vbu f32) (local $vbi f32) (local $vbj f32) (local $base f32)
    (local $zi f32) (local $zj f32) (local $gi f32) (local $gj f32) (local $gu f32)
    (local $x f32) (local $w f32) (local $v f32) (local $rw f32) (local $n f32)
    (local $dz f64) (local $ex f64) (local $s f64) (local $prod f64)
    (local $vgi v128) (local $vgj v128) (local $vlr v128) (local $vreg v128)
    (local $vp v128) (local $vqi v128) (local $vqj v128) (local $vrq v128) (local $acc v128)
    (local.set $nf16 (i32.and (local.get $nfb) (i32.const -16)))
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $vreg (f32x4.splat (local.get $reg)))
    (local.set $b (f32.load (local.get $gb)))
    (local.set $prod (f64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $e) (local.get $count)))
        (local.set $u (i32.load (i32.add (local.get $users) (i32.shl (local.get $e) (i32.const 2)))))
        (local.set $i (i32.load (i32.add (local.get $items) (i32.shl (local.get $e) (i32.const 2)))))
        (local.set $j (i32.load (i32.add (local.get $negs) (i32.shl (local.get $e) (i32.const 2)))))
        (local.set $p (i32.add (local.get $P) (i32.mul (local.get $u) (local.get $nfb))))
        (local.set $qi (i32.add (local.get $Q) (i32.mul (local.get $i) (local.get $nfb))))
        (local.set $qj (i32.add (local.get $Q) (i32.mul (local.get $j) (local.get $nfb))))
        (local.set $u (i32.add (local.get $bu) (i32.shl (local.get $u) (i32.const 2))))
        (local.set $i (i32.add (local.get $bi) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (i32.add (local.get $bi) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $vbu (f32.load (local.get $u)))
        (local.set $vbi (f32.load (local.get $i)))
        (local.set $vbj (f32.load (local.get $j)))
        (local.set $base (f32.add (local.get $b) (local.get $vbu)))
        (local.set $zi (f32.add (f32.add (local.get $base)
          (call $mf_dot (local.get $p) (local.get $qi) (local.get $nfb) (local.get $nf16)))
          (local.get $vbi)))
        (local.set $zj (f32.add (f32.add (local.get $base)
          (call $mf_dot (local.get $p) (local.get $qj) (local.get $nfb) (local.get $nf16)))
          (local.get $vbj)))
        (local.set $dz (f64.sub (f64.promote_f32 (local.get $zi)) (f64.promote_f32 (local.get $zj))))
        (local.set $ex (call $exp (f64.neg (f64.abs (local.get $dz)))))
        (local.set $s
          (if (result f64) (f64.ge (local.get $dz) (f64.const 0))
            (then (f64.div (local.get $ex) (f64.add (f64.const 1) (local.get $ex))))
            (else (f64.div (f64.const 1) (f64.add (f64.const 1) (local.get $ex))))))
        (local.set $gi (f32.demote_f64 (f64.neg (local.get $s))))
        (local.set $gj (f32.demote_f64 (local.get $s)))
        (local.set $gu (f32.add (local.get $gi) (local.get $gj)))
        (local.set $loss (f64.add (local.get $loss)
          (select (f64.neg (local.get $dz)) (f64.const 0) (f64.lt (local.get $dz) (f64.const 0)))))
        (local.set $prod (f64.mul (local.get $prod) (f64.add (f64.const 1) (local.get $ex))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $e) (i32.const 63)))
          (then
            (local.set $loss (f64.add (local.get $loss) (call $log (local.get $prod))))
            (local.set $prod (f64.const 1))))
        (local.set $vgi (f32x4.splat (local.get $gi)))
        (local.set $vgj (f32x4.splat (local.get $gj)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $o (i32.const 0))
        (if (i32.ne (local.get $qi) (local.get $qj))
          (then
            (block $vd
              (loop $vl
                (br_if $vd (i32.ge_u (local.get $o) (local.get $nf16)))
                (local.set $vp (v128.load (i32.add (local.get $p) (local.get $o))))
                (local.set $vqi (v128.load (i32.add (local.get $qi) (local.get $o))))
                (local.set $vqj (v128.load (i32.add (local.get $qj) (local.get $o))))
                (local.set $acc (f32x4.add (local.get $acc) (f32x4.add
                  (f32x4.add (f32x4.mul (local.get $vp) (local.get $vp))
                    (f32x4.mul (local.get $vqi) (local.get $vqi)))
                  (f32x4.mul (local.get $vqj) (local.get $vqj)))))
                (v128.store (i32.add (local.get $p) (local.get $o))
                  (f32x4.sub (local.get $vp) (f32x4.mul (local.get $vlr)
                    (f32x4.add
                      (f32x4.add (f32x4.mul (local.get $vgi) (local.get $vqi))
                        (f32x4.mul (local.get $vgj) (local.get $vqj)))
                      (f32x4.mul (local.get $vreg) (local.get $vp))))))
                (v128.store (i32.add (local.get $qi) (local.get $o))
                  (f32x4.sub (local.get $vqi) (f32x4.mul (local.get $vlr)
                    (f32x4.add (f32x4.mul (local.get $vgi) (local.get $vp))
                      (f32x4.mul (local.get $vreg) (local.get $vqi))))))
                (v128.store (i32.add (local.get $qj) (local.get $o))
                  (f32x4.sub (local.get $vqj) (f32x4.mul (local.get $vlr)
                    (f32x4.add (f32x4.mul (local.get $vgj) (local.get $vp))
                      (f32x4.mul (local.get $vreg) (local.get $vqj))))))
                (local.set $o (i32.add (local.get $o) (i32.const 16)))
                (br $vl)))
            (local.set $n (call $mf_lanes (local.get $acc)))
            (block $td
              (loop $tl
                (br_if $td (i32.ge_u (local.get $o) (local.get $nfb)))
                (local.set $x (f32.load (i32.add (local.get $p) (local.get $o))))
                (local.set $w (f32.load (i32.add (local.get $qi) (local.get $o))))
                (local.set $v (f32.load (i32.add (local.get $qj) (local.get $o))))
                (local.set $n (f32.add (local.get $n) (f32.add
                  (f32.add (f32.mul (local.get $x) (local.get $x)) (f32.mul (local.get $w) (local.get $w)))
                  (f32.mul (local.get $v) (local.get $v)))))
                (f32.store (i32.add (local.get $p) (local.get $o))
                  (f32.sub (local.get $x) (f32.mul (local.get $lr)
                    (f32.add
                      (f32.add (f32.mul (local.get $gi) (local.get $w)) (f32.mul (local.get $gj) (local.get $v)))
                      (f32.mul (local.get $reg) (local.get $x))))))
                (f32.store (i32.add (local.get $qi) (local.get $o))
                  (f32.sub (local.get $w) (f32.mul (local.get $lr)
                    (f32.add (f32.mul (local.get $gi) (local.get $x)) (f32.mul (local.get $reg) (local.get $w))))))
                (f32.store (i32.add (local.get $qj) (local.get $o))
                  (f32.sub (local.get $v) (f32.mul (local.get $lr)
                    (f32.add (f32.mul (local.get $gj) (local.get $x)) (f32.mul (local.get $reg) (local.get $v))))))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))
                (br $tl)))
            (f32.store (local.get $i) (f32.sub (local.get $vbi) (f32.mul (local.get $lr)
              (f32.add (local.get $gi) (f32.mul (local.get $reg) (local.get $vbi))))))
            (f32.store (local.get $j) (f32.sub (local.get $vbj) (f32.mul (local.get $lr)
              (f32.add (local.get $gj) (f32.mul (local.get $reg) (local.get $vbj)))))))
          (else
            ;; i = j: one item row takes both terms and its L2 term twice.
            (block $vd2
              (loop $vl2
                (br_if $vd2 (i32.ge_u (local.get $o) (local.get $nf16)))
                (local.set $vp (v128.load (i32.add (local.get $p) (local.get $o))))
                (local.set $vqi (v128.load (i32.add (local.get $qi) (local.get $o))))
                (local.set $acc (f32x4.add (local.get $acc) (f32x4.add
                  (f32x4.add (f32x4.mul (local.get $vp) (local.get $vp))
                    (f32x4.mul (local.get $vqi) (local.get $vqi)))
                  (f32x4.mul (local.get $vqi) (local.get $vqi)))))
                (local.set $vrq (f32x4.mul (local.get $vreg) (local.get $vqi)))
                (v128.store (i32.add (local.get $p) (local.get $o))
                  (f32x4.sub (local.get $vp) (f32x4.mul (local.get $vlr)
                    (f32x4.add
                      (f32x4.add (f32x4.mul (local.get $vgi) (local.get $vqi))
                        (f32x4.mul (local.get $vgj) (local.get $vqi)))
                      (f32x4.mul (local.get $vreg) (local.get $vp))))))
                (v128.store (i32.add (local.get $qi) (local.get $o))
                  (f32x4.sub (local.get $vqi) (f32x4.mul (local.get $vlr)
                    (f32x4.add (f32x4.add
                      (f32x4.add (f32x4.mul (local.get $vgi) (local.get $vp))
                        (f32x4.mul (local.get $vgj) (local.get $vp)))
                      (local.get $vrq)) (local.get $vrq)))))
                (local.set $o (i32.add (local.get $o) (i32.const 16)))
                (br $vl2)))
            (local.set $n (call $mf_lanes (local.get $acc)))
            (block $td2
              (loop $tl2
                (br_if $td2 (i32.ge_u (local.get $o) (local.get $nfb)))
                (local.set $x (f32.load (i32.add (local.get $p) (local.get $o))))
                (local.set $w (f32.load (i32.add (local.get $qi) (local.get $o))))
                (local.set $n (f32.add (local.get $n) (f32.add
                  (f32.add (f32.mul (local.get $x) (local.get $x)) (f32.mul (local.get $w) (local.get $w)))
                  (f32.mul (local.get $w) (local.get $w)))))
                (local.set $rw (f32.mul (local.get $reg) (local.get $w)))
                (f32.store (i32.add (local.get $p) (local.get $o))
                  (f32.sub (local.get $x) (f32.mul (local.get $lr)
                    (f32.add
                      (f32.add (f32.mul (local.get $gi) (local.get $w)) (f32.mul (local.get $gj) (local.get $w)))
                      (f32.mul (local.get $reg) (local.get $x))))))
                (f32.store (i32.add (local.get $qi) (local.get $o))
                  (f32.sub (local.get $w) (f32.mul (local.get $lr)
                    (f32.add (f32.add
                      (f32.add (f32.mul (local.get $gi) (local.get $x)) (f32.mul (local.get $gj) (local.get $x)))
                      (local.get $rw)) (local.get $rw)))))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))
                (br $tl2)))
            (local.set $rw (f32.mul (local.get $reg) (local.get $vbi)))
            (f32.store (local.get $i) (f32.sub (local.get $vbi) (f32.mul (local.get $lr)
              (f32.add (f32.add (local.get $gu) (local.get $rw)) (local.get $rw)))))))
        (if (f64.gt (local.get $penalty) (f64.const 0))
          (then
            (local.set $n (f32.add (f32.add (f32.add (f32.add (local.get $n)
              (f32.mul (local.get $vbu) (local.get $vbu)))
              (f32.mul (local.get $vbi) (local.get $vbi)))
              (f32.mul (local.get $vbj) (local.get $vbj)))
              (f32.mul (local.get $b) (local.get $b))))
            (local.set $loss (f64.add (local.get $loss)
              (f64.mul (local.get $penalty) (f64.promote_f32 (local.get $n)))))))
        (f32.store (local.get $u) (f32.sub (local.get $vbu) (f32.mul (local.get $lr)
          (f32.add (local.get $gu) (f32.mul (local.get $reg) (local.get $vbu))))))
        (local.set $b (f32.sub (local.get $b) (f32.mul (local.get $lr)
          (f32.add (local.get $gu) (f32.mul (local.get $reg) (local.get $b))))))
        (br $next)))
    (if (i32.and (local.get $count) (i32.const 63))
      (then (local.set $loss (f64.add (local.get $loss) (call $log (local.get $prod))))))
    (f32.store (local.get $gb) (local.get $b))
    (local.get $loss))

  ;; out row r = max(src row r + vec, 0) for r < rows, rows of $dim bytes, contiguous.
  (func (export "add_relu_rows") (param $src i32) (param $vec i32) (param $out i32) (param $rows i32) (param $dim i32)
    (local $end i32) (local $z v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $v4 v128) (local $v5 v128) (local $v6 v128) (local $v7 v128) (local $x v128)
    (local.set $end (i32.add (local.get $src) (i32.mul (local.get $rows) (local.get $dim))))
    (if (i32.eq (local.get $dim) (i32.const 128))
      (then
        (local.set $v0 (v128.load offset=0 (local.get $vec)))
        (local.set $v1 (v128.load offset=16 (local.get $vec)))
        (local.set $v2 (v128.load offset=32 (local.get $vec)))
        (local.set $v3 (v128.load offset=48 (local.get $vec)))
        (local.set $v4 (v128.load offset=64 (local.get $vec)))
        (local.set $v5 (v128.load offset=80 (local.get $vec)))
        (local.set $v6 (v128.load offset=96 (local.get $vec)))
        (local.set $v7 (v128.load offset=112 (local.get $vec)))
        (block $d32 (loop $l32
          (br_if $d32 (i32.ge_u (local.get $src) (local.get $end)))
          (local.set $x (f32x4.add (v128.load offset=0 (local.get $src)) (local.get $v0)))
          (v128.store offset=0 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=16 (local.get $src)) (local.get $v1)))
          (v128.store offset=16 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=32 (local.get $src)) (local.get $v2)))
          (v128.store offset=32 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=48 (local.get $src)) (local.get $v3)))
          (v128.store offset=48 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=64 (local.get $src)) (local.get $v4)))
          (v128.store offset=64 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=80 (local.get $src)) (local.get $v5)))
          (v128.store offset=80 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=96 (local.get $src)) (local.get $v6)))
          (v128.store offset=96 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $x (f32x4.add (v128.load offset=112 (local.get $src)) (local.get $v7)))
          (v128.store offset=112 (local.get $out) (v128.and (local.get $x) (f32x4.gt (local.get $x) (local.get $z))))
          (local.set $src (i32.add (local.get $src) (i32.const 128)))
          (local.set $out (i32.add (local.get $out) (i32.const 128)))
          (br $l32)))
        (return)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $src) (local.get $end)))
      (call $add_relu_row (local.get $src) (local.get $vec) (local.get $out) (local.get $dim))
      (local.set $src (i32.add (local.get $src) (local.get $dim)))
      (local.set $out (i32.add (local.get $out) (local.get $dim)))
      (br $l))))

  ;; ---------------------------------------------------------------- GEMM --
  ;; C[i,j] = alpha * sum_p A(i,p) * B(p,j)  (+ C[i,j] when $acc), float32,
  ;; for i < m, j < n, p < k in order; A(i,p) at a + i*sai + p*sap, B(p,j) at
  ;; b + p*ldb + 4j, C[i,j] at c + i*ldc + 4j.
  (func $store4 (param $c i32) (param $x v128) (param $alpha v128) (param $acc i32)
    (if (local.get $acc)
      (then (v128.store (local.get $c)
        (f32x4.add (v128.load (local.get $c)) (f32x4.mul (local.get $alpha) (local.get $x)))))
      (else (v128.store (local.get $c) (f32x4.mul (local.get $alpha) (local.get $x))))))

  (func $k4x8
    (param $a i32) (param $sai i32) (param $sap i32) (param $b i32) (param $ldb i32)
    (param $c i32) (param $ldc i32) (param $k i32) (param $alpha v128) (param $acc i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $p i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $sai)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $sai)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $sai)))
    (local.set $p (local.get $k))
    (loop $l
      (local.set $b0 (v128.load (local.get $b)))
      (local.set $b1 (v128.load offset=16 (local.get $b)))
      (local.set $x (v128.load32_splat (local.get $a)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a1)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a2)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $a3)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $a (i32.add (local.get $a) (local.get $sap)))
      (local.set $a1 (i32.add (local.get $a1) (local.get $sap)))
      (local.set $a2 (i32.add (local.get $a2) (local.get $sap)))
      (local.set $a3 (i32.add (local.get $a3) (local.get $sap)))
      (local.set $b (i32.add (local.get $b) (local.get $ldb)))
      (br_if $l (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
    (call $store4 (local.get $c) (local.get $c00) (local.get $alpha) (local.get $acc))
    (call $store4 (i32.add (local.get $c) (i32.const 16)) (local.get $c01) (local.get $alpha) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store4 (local.get $c) (local.get $c10) (local.get $alpha) (local.get $acc))
    (call $store4 (i32.add (local.get $c) (i32.const 16)) (local.get $c11) (local.get $alpha) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store4 (local.get $c) (local.get $c20) (local.get $alpha) (local.get $acc))
    (call $store4 (i32.add (local.get $c) (i32.const 16)) (local.get $c21) (local.get $alpha) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store4 (local.get $c) (local.get $c30) (local.get $alpha) (local.get $acc))
    (call $store4 (i32.add (local.get $c) (i32.const 16)) (local.get $c31) (local.get $alpha) (local.get $acc)))

  (func $k4x4
    (param $a i32) (param $sai i32) (param $sap i32) (param $b i32) (param $ldb i32)
    (param $c i32) (param $ldc i32) (param $k i32) (param $alpha v128) (param $acc i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $p i32) (local $b0 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $sai)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $sai)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $sai)))
    (local.set $p (local.get $k))
    (loop $l
      (local.set $b0 (v128.load (local.get $b)))
      (local.set $c0 (f32x4.add (local.get $c0)
        (f32x4.mul (v128.load32_splat (local.get $a)) (local.get $b0))))
      (local.set $c1 (f32x4.add (local.get $c1)
        (f32x4.mul (v128.load32_splat (local.get $a1)) (local.get $b0))))
      (local.set $c2 (f32x4.add (local.get $c2)
        (f32x4.mul (v128.load32_splat (local.get $a2)) (local.get $b0))))
      (local.set $c3 (f32x4.add (local.get $c3)
        (f32x4.mul (v128.load32_splat (local.get $a3)) (local.get $b0))))
      (local.set $a (i32.add (local.get $a) (local.get $sap)))
      (local.set $a1 (i32.add (local.get $a1) (local.get $sap)))
      (local.set $a2 (i32.add (local.get $a2) (local.get $sap)))
      (local.set $a3 (i32.add (local.get $a3) (local.get $sap)))
      (local.set $b (i32.add (local.get $b) (local.get $ldb)))
      (br_if $l (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
    (call $store4 (local.get $c) (local.get $c0) (local.get $alpha) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store4 (local.get $c) (local.get $c1) (local.get $alpha) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store4 (local.get $c) (local.get $c2) (local.get $alpha) (local.get $acc))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store4 (local.get $c) (local.get $c3) (local.get $alpha) (local.get $acc)))

  (func $k1x8
    (param $a i32) (param $sap i32) (param $b i32) (param $ldb i32)
    (param $c i32) (param $k i32) (param $alpha v128) (param $acc i32)
    (local $p i32) (local $x v128) (local $c0 v128) (local $c1 v128)
    (local.set $p (local.get $k))
    (loop $l
      (local.set $x (v128.load32_splat (local.get $a)))
      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $x) (v128.load (local.get $b)))))
      (local.set $c1 (f32x4.add (local.get $c1)
        (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (local.get $sap)))
      (local.set $b (i32.add (local.get $b) (local.get $ldb)))
      (br_if $l (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
    (call $store4 (local.get $c) (local.get $c0) (local.get $alpha) (local.get $acc))
    (call $store4 (i32.add (local.get $c) (i32.const 16)) (local.get $c1) (local.get $alpha) (local.get $acc)))

  (func $k1x4
    (param $a i32) (param $sap i32) (param $b i32) (param $ldb i32)
    (param $c i32) (param $k i32) (param $alpha v128) (param $acc i32)
    (local $p i32) (local $c0 v128)
    (local.set $p (local.get $k))
    (loop $l
      (local.set $c0 (f32x4.add (local.get $c0)
        (f32x4.mul (v128.load32_splat (local.get $a)) (v128.load (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (local.get $sap)))
      (local.set $b (i32.add (local.get $b) (local.get $ldb)))
      (br_if $l (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
    (call $store4 (local.get $c) (local.get $c0) (local.get $alpha) (local.get $acc)))

  (func $k1x1
    (param $a i32) (param $sap i32) (param $b i32) (param $ldb i32)
    (param $c i32) (param $k i32) (param $alpha f32) (param $acc i32)
    (local $p i32) (local $t f32)
    (local.set $p (local.get $k))
    (loop $l
      (local.set $t (f32.add (local.get $t)
        (f32.mul (f32.load (local.get $a)) (f32.load (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (local.get $sap)))
      (local.set $b (i32.add (local.get $b) (local.get $ldb)))
      (br_if $l (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
    (local.set $t (f32.mul (local.get $alpha) (local.get $t)))
    (if (local.get $acc) (then (local.set $t (f32.add (f32.load (local.get $c)) (local.get $t)))))
    (f32.store (local.get $c) (local.get $t)))

  ;; C[i] = alpha * sum_p A[i,p] * b[p] (+ C[i]) for n = 1, contiguous A rows and b:
  ;; four lanes of partial sums per row over p in steps of 4, added (l0+l1)+(l2+l3), then
  ;; the remaining p in order
  (func $gemv
    (param $m i32) (param $k i32) (param $alpha f32) (param $a i32) (param $sai i32)
    (param $b i32) (param $c i32) (param $ldc i32) (param $acc i32)
    (local $i i32) (local $p i32) (local $k4 i32) (local $row i32) (local $s v128) (local $t f32)
    (local.set $k4 (i32.and (local.get $k) (i32.const -4)))
    (block $d
      (loop $l
        (br_if $d (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $row (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai))))
        (local.set $s (v128.const f32x4 0 0 0 0))
        (local.set $p (i32.const 0))
        (block $pd
          (loop $pl
            (br_if $pd (i32.ge_u (local.get $p) (local.get $k4)))
            (local.set $s (f32x4.add (local.get $s)
              (f32x4.mul (v128.load (i32.add (local.get $row) (i32.shl (local.get $p) (i32.const 2))))
                (v128.load (i32.add (local.get $b) (i32.shl (local.get $p) (i32.const 2)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $pl)))
        (local.set $t (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
          (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s)))))
        (block $td
          (loop $tl
            (br_if $td (i32.ge_u (local.get $p) (local.get $k)))
            (local.set $t (f32.add (local.get $t)
              (f32.mul (f32.load (i32.add (local.get $row) (i32.shl (local.get $p) (i32.const 2))))
                (f32.load (i32.add (local.get $b) (i32.shl (local.get $p) (i32.const 2)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $tl)))
        (local.set $t (f32.mul (local.get $alpha) (local.get $t)))
        (if (local.get $acc)
          (then (local.set $t (f32.add (f32.load (local.get $c)) (local.get $t)))))
        (f32.store (local.get $c) (local.get $t))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))

  ;; k >= 1, m >= 1, n >= 1 (the caller handles the empty cases)
  (func $gemm (export "gemm")
    (param $m i32) (param $n i32) (param $k i32) (param $alpha f32)
    (param $a i32) (param $sai i32) (param $sap i32)
    (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $m4 i32) (local $n8 i32) (local $av v128)
    (local $ai i32) (local $ci i32) (local $r i32)
    (if (i32.and (i32.eq (local.get $n) (i32.const 1))
          (i32.and (i32.eq (local.get $sap) (i32.const 4)) (i32.eq (local.get $ldb) (i32.const 4))))
      (then
        (call $gemv (local.get $m) (local.get $k) (local.get $alpha) (local.get $a)
          (local.get $sai) (local.get $b) (local.get $c) (local.get $ldc) (local.get $acc))
        (return)))
    (local.set $av (f32x4.splat (local.get $alpha)))
    (local.set $m4 (i32.and (local.get $m) (i32.const -4)))
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    ;; blocks of 4 rows
    (block $id
      (loop $il
        (br_if $id (i32.ge_u (local.get $i) (local.get $m4)))
        (local.set $ai (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai))))
        (local.set $ci (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))))
        (local.set $j (i32.const 0))
        (block $jd
          (loop $jl
            (br_if $jd (i32.ge_u (local.get $j) (local.get $n8)))
            (call $k4x8 (local.get $ai) (local.get $sai) (local.get $sap)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldb)
              (i32.add (local.get $ci) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldc)
              (local.get $k) (local.get $av) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $jl)))
        (if (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $n))
          (then
            (call $k4x4 (local.get $ai) (local.get $sai) (local.get $sap)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldb)
              (i32.add (local.get $ci) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldc)
              (local.get $k) (local.get $av) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))))
        (block $sd
          (loop $sl
            (br_if $sd (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $r (i32.const 0))
            (loop $rl
              (call $k1x1
                (i32.add (local.get $ai) (i32.mul (local.get $r) (local.get $sai))) (local.get $sap)
                (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldb)
                (i32.add (i32.add (local.get $ci) (i32.mul (local.get $r) (local.get $ldc)))
                  (i32.shl (local.get $j) (i32.const 2)))
                (local.get $k) (local.get $alpha) (local.get $acc))
              (br_if $rl (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (i32.const 4))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sl)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $il)))
    ;; remaining rows one at a time
    (block $rd
      (loop $rl2
        (br_if $rd (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $ai (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai))))
        (local.set $ci (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))))
        (local.set $j (i32.const 0))
        (block $jd2
          (loop $jl2
            (br_if $jd2 (i32.ge_u (local.get $j) (local.get $n8)))
            (call $k1x8 (local.get $ai) (local.get $sap)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldb)
              (i32.add (local.get $ci) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $k) (local.get $av) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $jl2)))
        (if (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $n))
          (then
            (call $k1x4 (local.get $ai) (local.get $sap)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldb)
              (i32.add (local.get $ci) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $k) (local.get $av) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))))
        (block $sd2
          (loop $sl2
            (br_if $sd2 (i32.ge_u (local.get $j) (local.get $n)))
            (call $k1x1 (local.get $ai) (local.get $sap)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))) (local.get $ldb)
              (i32.add (local.get $ci) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $k) (local.get $alpha) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sl2)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rl2))))

  ;; dst[c*rows + r] = src[r*ld + c] for r < rows, c < cols (ld in bytes)
  (func $transpose (export "transpose")
    (param $src i32) (param $rows i32) (param $cols i32) (param $ld i32) (param $dst i32)
    (local $r i32) (local $col i32) (local $s i32)
    (block $rd
      (loop $rl
        (br_if $rd (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $ld))))
        (local.set $col (i32.const 0))
        (block $cd
          (loop $cl
            (br_if $cd (i32.ge_u (local.get $col) (local.get $cols)))
            (f32.store
              (i32.add (local.get $dst)
                (i32.shl (i32.add (i32.mul (local.get $col) (local.get $rows)) (local.get $r))
                  (i32.const 2)))
              (f32.load (i32.add (local.get $s) (i32.shl (local.get $col) (i32.const 2)))))
            (local.set $col (i32.add (local.get $col) (i32.const 1)))
            (br $cl)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl))))
)
