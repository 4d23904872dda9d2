;; The full-ranking scans of the evaluation (lib/eval/_rank_kernels.ts), over
;; float32 score rows in this module's own memory: counting the scores not
;; below the positive's, and finding the next score above a threshold (the
;; top-K selection's fast reject). WebAssembly SIMD, four lanes; no imports.
;;
;; Build: `deno run --allow-read=lib --allow-write=lib/eval tests/eval/_build_rank_kernels.ts`
;; rewrites _rank_kernels_wasm.ts (a test fails when the two disagree).
(module
  (memory (export "memory") 1)

  ;; Number of i < n with !(x[i] < p) for x at byte address $ptr: the scores
  ;; that are not below p, NaN counted (NaN is never below anything).
  (func (export "count_not_below") (param $ptr i32) (param $n i32) (param $p f32) (result i32)
    (local $end i32) (local $end16 i32) (local $pv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $below i32)
    (local.set $pv (f32x4.splat (local.get $p)))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end16
      (i32.add (local.get $ptr) (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2))))
    ;; Each lane of f32x4.lt is -1 where x < p: the accumulators count down.
    (block $d16
      (loop $l16
        (br_if $d16 (i32.ge_u (local.get $ptr) (local.get $end16)))
        (local.set $a0 (i32x4.add (local.get $a0)
          (f32x4.lt (v128.load (local.get $ptr)) (local.get $pv))))
        (local.set $a1 (i32x4.add (local.get $a1)
          (f32x4.lt (v128.load offset=16 (local.get $ptr)) (local.get $pv))))
        (local.set $a2 (i32x4.add (local.get $a2)
          (f32x4.lt (v128.load offset=32 (local.get $ptr)) (local.get $pv))))
        (local.set $a3 (i32x4.add (local.get $a3)
          (f32x4.lt (v128.load offset=48 (local.get $ptr)) (local.get $pv))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
        (br $l16)))
    (local.set $a0 (i32x4.add (i32x4.add (local.get $a0) (local.get $a1))
      (i32x4.add (local.get $a2) (local.get $a3))))
    (local.set $below (i32.sub (i32.const 0)
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
        (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0))))))
    (block $d
      (loop $l
        (br_if $d (i32.ge_u (local.get $ptr) (local.get $end)))
        (if (f32.lt (f32.load (local.get $ptr)) (local.get $p))
          (then (local.set $below (i32.add (local.get $below) (i32.const 1)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (br $l)))
    (i32.sub (local.get $n) (local.get $below)))

  ;; The first i < n with x[i] > t for x at byte address $ptr, else n (NaN is
  ;; never above anything).
  (func (export "next_above") (param $ptr i32) (param $n i32) (param $t f32) (result i32)
    (local $at i32) (local $end i32) (local $end4 i32) (local $tv v128)
    (local.set $tv (f32x4.splat (local.get $t)))
    (local.set $at (local.get $ptr))
    (local.set $end (i32.add (local.get $ptr) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4
      (i32.add (local.get $ptr) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $found
      (block $d4
        (loop $l4
          (br_if $d4 (i32.ge_u (local.get $at) (local.get $end4)))
          (br_if $found (v128.any_true (f32x4.gt (v128.load (local.get $at)) (local.get $tv))))
          (local.set $at (i32.add (local.get $at) (i32.const 16)))
          (br $l4))))
    ;; Lane by lane from $at (inside the vector that matched, or the tail).
    (block $d
      (loop $l
        (br_if $d (i32.ge_u (local.get $at) (local.get $end)))
        (br_if $d (f32.gt (f32.load (local.get $at)) (local.get $t)))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $l)))
    (i32.shr_u (i32.sub (local.get $at) (local.get $ptr)) (i32.const 2))))
