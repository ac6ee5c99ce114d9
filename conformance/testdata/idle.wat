;; The smallest ENGINE-ABI 1 guest: accepts every event, never acts, no deadline.
;; With an edited version number or missing export it checks the host's ABI checks.
(module
  (memory (export "memory") 2)
  (data (i32.const 1024) "next none\n")
  (func (export "pass_abi_version") (result i32) (i32.const 1))
  (func (export "pass_alloc") (param $len i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $len) (i32.const 61440))
      (then (i32.const 0))
      (else (i32.const 4096))))
  (func (export "pass_handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 10))))
