;; A guest that speaks ENGINE-ABI 1 until the first stanza, then spins forever.
;; The host must stop it with its fuel budget, not hang.
(module
  (memory (export "memory") 2)
  ;; Output record at 1024; events are written at 4096.
  (data (i32.const 1024) "next none\n")
  (func (export "pass_abi_version") (result i32) (i32.const 1))
  (func (export "pass_alloc") (param $len i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $len) (i32.const 61440))
      (then (i32.const 0))
      (else (i32.const 4096))))
  (func (export "pass_handle") (param $ptr i32) (param $len i32) (result i64)
    ;; 's' (115) starts a stanza record.
    (if (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 115))
      (then (loop $spin (br $spin))))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 10))))
