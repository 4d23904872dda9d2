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
