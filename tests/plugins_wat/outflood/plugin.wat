;; Test plugin: loops on WASI fd_write, 8 KiB to stdout then 8 KiB to stderr, until its fuel ends
;; it (issue 12: the capture must be bounded while the guest writes, not after).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "alloc") (param i32) (result i32) (i32.const 65536))
  (func (export "generate_response") (param i32 i32) (result i64)
    (memory.fill (i32.const 1024) (i32.const 65) (i32.const 8192))   ;; "AAAA..." at 1024
    (i32.store (i32.const 0) (i32.const 1024))                       ;; iovec {1024, 8192}
    (i32.store (i32.const 4) (i32.const 8192))
    (loop $forever
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16)))
      (br $forever))
    (i64.const 0)))
