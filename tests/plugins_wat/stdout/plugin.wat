;; Test plugin: writes to stdout and stderr with WASI fd_write, then answers body_text "ok".
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (data (i32.const 0) "hello from the guest\n")           ;; 21 bytes
  (data (i32.const 32) "warning from the guest\n")        ;; 23 bytes
  (data (i32.const 64) "{\"status\":200,\"body_text\":\"ok\"}") ;; 31 bytes
  (func (export "generate_response") (param i32 i32) (result i64)
    ;; iovec at 128: {ptr 0, len 21}; at 136: {ptr 32, len 23}; bytes written at 144
    (i32.store (i32.const 128) (i32.const 0))
    (i32.store (i32.const 132) (i32.const 21))
    (i32.store (i32.const 136) (i32.const 32))
    (i32.store (i32.const 140) (i32.const 23))
    (drop (call $fd_write (i32.const 1) (i32.const 128) (i32.const 1) (i32.const 144)))
    (drop (call $fd_write (i32.const 2) (i32.const 136) (i32.const 1) (i32.const 144)))
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 31))))
